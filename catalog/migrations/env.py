"""Alembic environment: runs on the engine the catalog hands over (see catalog.db.migrate)."""

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import catalog.models  # noqa: F401  (registers the tables)

# Any fixed number: the advisory lock serialises migrations of one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x6D657368


def run_migrations_online() -> None:
    config = context.config
    engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            transactional_ddl=True,
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Meshmill migrations run online only: they are applied on first use of the catalog.")
run_migrations_online()
