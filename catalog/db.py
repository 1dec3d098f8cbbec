"""Engines for SQLite and PostgreSQL, and migrations applied on first use."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from catalog.config import database_url

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: seconds a connection waits for a lock (SQLite's busy timeout), switching to WAL included
SQLITE_WAIT_S = 60
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


class CatalogConfigError(ValueError):
    """The catalog URL names a database Meshmill does not support."""


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL (a no-op once it is), waiting for the lock that takes.

    The switch needs the file to itself and SQLite does not wait for it: a reader anywhere, or two
    processes opening a new catalog at once (each holding a read lock while asking for the file),
    gets "database is locked" at once. So it is retried here for as long as any other lock is waited for.
    """
    deadline = time.monotonic() + SQLITE_WAIT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_WAIT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        # Let SQLAlchemy's "begin" below open every transaction, so that writers queue on
        # busy_timeout instead of failing with "database is locked" on a read-to-write upgrade.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_WAIT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # noqa: ANN001
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_engine(url: str) -> Engine:
    """A new engine for ``url`` (``sqlite:///…`` or ``postgresql+psycopg://…``), not migrated."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    if url.startswith("postgresql+psycopg://"):
        # No server-side prepared statements: after a few runs PostgreSQL may switch a prepared
        # query to a generic plan, blind to how rare a tag is; on skewed labels that was 10x slower.
        # No pre-ping either: it costs a round trip per query; stale connections are recycled hourly.
        # JIT off: catalog queries are short, and PostgreSQL's JIT compiled them for ~20 ms whenever
        # a (pessimistic) cost estimate crossed its threshold.
        # random_page_cost 1.1 (default 4, priced for spinning disks): a catalog's indexes live in memory or on
        # SSD, and at the default the planner answered a rare tag AND a rare collection by reading every
        # source image (a hash join over a sequential scan) instead of looking up the few hundred it needed.
        options = "-c jit=off -c random_page_cost=1.1"
        return create_engine(url, pool_recycle=3600, connect_args={"prepare_threshold": None, "options": options})
    if url.startswith("postgresql"):
        raise CatalogConfigError(f"catalog URL {url.split('@')[-1]!r}: use the psycopg 3 driver, 'postgresql+psycopg://…'")
    raise CatalogConfigError(f"catalog URL {url!r}: only sqlite:/// and postgresql+psycopg:// are supported")


def read_only_engine(url: str | None = None) -> Engine:
    """An engine that only reads ``url``'s catalog, for when the normal one cannot open it: on a full disk SQLite
    cannot create the journal files that every connection to a WAL file needs. With a write-ahead log holding
    pages not yet in the file, SQLite reads both in read-only mode; without one (or with the empty one a failed
    open leaves) the file is complete, and is opened as immutable, which needs no journal files at all. Not
    migrated. PostgreSQL's engine is the normal one."""
    url = url or database_url()
    if not url.startswith("sqlite"):
        return make_engine(url)
    path = Path(make_url(url).database or "").resolve()
    if not path.is_file():
        raise CatalogConfigError(f"catalog {url!r}: no such file to read")
    wal = path.with_name(path.name + "-wal")
    mode = "mode=ro" if wal.exists() and wal.stat().st_size > 0 else "immutable=1"  # an empty log: the failed open's
    return create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(f"file:{path}?{mode}", uri=True, timeout=SQLITE_WAIT_S, check_same_thread=False)
    )


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
        cfg.attributes["engine"] = engine
    return cfg


def is_up_to_date(engine: Engine) -> bool:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration; safe to call from many processes at once."""
    if not is_up_to_date(engine):
        command.upgrade(alembic_config(engine), "head")


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: from the environment), migrated on first use."""
    url = url or database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = make_engine(url)
            migrate(engine)
            _engines[url] = engine
        return engine


def describe_database(url: str | None = None) -> str:
    """The catalog's address for messages, its password hidden."""
    try:
        return make_url(url or database_url()).render_as_string(hide_password=True)
    except Exception:  # a malformed URL is reported where it is used
        return "the catalog database"


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
