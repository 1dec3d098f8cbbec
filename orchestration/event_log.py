"""Dagster's SQLite event log with its connections kept open: the embedded instance's events for less.

Dagster's ``SqliteEventLogStorage`` opens an engine and a connection for every write and closes them after — for
an asset's materialisation twice, the run's file and the index — and a batched run writes about fifteen events an
image: on the 2-core box that was 2.0 of the 9.5 s by which ``convert`` of 20 images trailed a plain loop
(docs/explanation/known-gaps.md, "Orchestration overhead"). Here each file's engine stays open, with one pooled
connection (two more while Dagster inspects a new file), for the index and the last few runs' files; a transaction
still begins and commits around every write, so other processes see each event as before, and SQLite's locks are
taken per transaction, not per open connection. A process that forks drops the engines it inherited (a connection
must not cross a fork) and opens its own.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage
from sqlalchemy import Connection, Engine, create_engine

#: run files whose engines stay open besides the index's (a process writes to one run at a time, a reader a few)
OPEN_RUN_FILES = 8


def events_folder(home: str | os.PathLike | None = None) -> str:
    """Where Dagster keeps a local instance's event logs: ``history/runs`` in the instance's folder (default
    ``$DAGSTER_HOME``)."""
    home = home or os.environ.get("DAGSTER_HOME")
    if not home:
        raise dg.DagsterInvariantViolationError(
            "PooledSqliteEventLogStorage: the instance's dagster.yaml gives no base_dir and $DAGSTER_HOME is not set; "
            "set either (meshmill writes base_dir when it copies dagster.yaml into a new instance folder)"
        )
    return os.path.join(home, "history", "runs", "")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` whose engines stay open (see the module docstring); ``base_dir`` defaults to where
    Dagster's own would keep the events, so switching to it keeps an instance's history."""

    def __init__(self, base_dir: str | None = None, inst_data: Any = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._pid = os.getpid()
        super().__init__(base_dir or events_folder(), inst_data)

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: dict) -> PooledSqliteEventLogStorage:  # ty: ignore[invalid-method-override]
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock, self._engine(shard).connect() as connection, connection.begin():
            yield connection

    def _engine(self, shard: str) -> Engine:
        if os.getpid() != self._pid:  # forked: the parent's connections are the parent's
            for engine in self._engines.values():
                engine.dispose(close=False)
            self._engines.clear()
            self._pid = os.getpid()
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard), pool_size=1, max_overflow=2, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
            )
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
        self._engines[shard] = engine  # the most recently used last
        while len(self._engines) > OPEN_RUN_FILES + 1:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    def _close_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self._close_engines()  # the files go: no engine may keep writing to a removed one
        super().wipe()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()
