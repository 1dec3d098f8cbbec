from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from catalog import get_engine
from catalog.db import is_up_to_date


def test_migrations_create_exactly_the_tables_the_models_declare(database_url):
    engine = get_engine(database_url)  # migrates on first use
    assert is_up_to_date(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert differences == []
    assert set(SQLModel.metadata.tables) <= set(inspect(engine).get_table_names())


def test_migrating_twice_is_harmless(database_url):
    from catalog import dispose_engines, record_source

    engine = get_engine(database_url)
    record_source(engine, content_hash="a" * 64, filename="a.png", width=1, height=1, mode="RGB", byte_size=1, blob_key="k")
    dispose_engines()
    engine = get_engine(database_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM source_image").scalar() == 1
