"""Bulk writes on SQLite and PostgreSQL alike: INSERT … ON CONFLICT DO NOTHING, for a few rows or thousands.

On PostgreSQL, many rows go in through COPY into a temporary staging table and one INSERT … SELECT … ON
CONFLICT DO NOTHING (RETURNING where the caller needs the new ids): COPY skips the per-row parameter work
that a multi-row INSERT does in SQLAlchemy and psycopg, which was most of bulk ingest's time. Few rows, and
every row on SQLite, go in as one executemany INSERT.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import Column, Connection, Table, insert
from sqlalchemy.dialects import postgresql, sqlite

#: from this many rows on, PostgreSQL takes them through COPY (a staging table costs about a millisecond)
COPY_FROM = 200


def insert_ignoring_duplicates(conn: Connection, table: Table, rows: list[dict]) -> None:
    """INSERT … ON CONFLICT DO NOTHING."""
    if not rows:
        return
    if _copies(conn, rows):
        _copy_and_insert(conn, table, rows, returning=None)
        return
    conn.execute(dialect_insert(conn, table).on_conflict_do_nothing(), rows)


def insert_all(conn: Connection, table: Table, rows: list[dict]) -> None:
    """INSERT rows that cannot collide with any (new rows of their own, e.g. a new object's views)."""
    if not rows:
        return
    if _copies(conn, rows):
        cursor = conn.connection.driver_connection.cursor()  # psycopg 3, in the transaction SQLAlchemy began
        try:
            _copy(cursor, table.name, rows)
        finally:
            cursor.close()
        return
    conn.execute(insert(table), rows)


def insert_returning_new(conn: Connection, table: Table, rows: list[dict], key: Column) -> dict:
    """Insert the rows that collide with no unique key; maps ``key`` to id for those actually inserted."""
    if not rows:
        return {}
    if _copies(conn, rows):
        return dict(_copy_and_insert(conn, table, rows, returning=key))
    # executemany: compiled once, sent in multi-row batches ("insertmanyvalues"), RETURNING kept
    statement = dialect_insert(conn, table).on_conflict_do_nothing().returning(key, table.c.id)
    return dict(conn.execute(statement, rows).all())


def dialect_insert(conn: Connection, table: Table):  # noqa: ANN201
    """INSERT in the dialect of ``conn``, which has ON CONFLICT."""
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def _copies(conn: Connection, rows: list[dict]) -> bool:
    return conn.dialect.name == "postgresql" and len(rows) >= COPY_FROM


def _copy_and_insert(conn: Connection, table: Table, rows: list[dict], returning: Column | None) -> list[tuple[Any, int]]:
    """COPY ``rows`` into a staging table of the rows' columns (their types, no constraints) inside the caller's
    transaction, then move them over with one INSERT … SELECT … ON CONFLICT DO NOTHING."""
    names = _column_list(rows)
    stage = f"stage_{table.name}_{uuid.uuid4().hex[:8]}"
    cursor = conn.connection.driver_connection.cursor()  # psycopg 3, in the transaction SQLAlchemy began
    try:
        cursor.execute(f'CREATE TEMPORARY TABLE "{stage}" ON COMMIT DROP AS SELECT {names} FROM "{table.name}" WITH NO DATA')
        _copy(cursor, stage, rows)
        statement = f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM "{stage}" ON CONFLICT DO NOTHING'
        if returning is None:
            cursor.execute(statement)
            found: list[tuple[Any, int]] = []
        else:
            cursor.execute(f'{statement} RETURNING "{returning.name}", id')
            found = cursor.fetchall()
        return found  # the staging table goes with the transaction (ON COMMIT DROP)
    finally:
        cursor.close()


def _column_list(rows: list[dict]) -> str:
    return ", ".join(f'"{column}"' for column in rows[0])


def _copy(cursor: Any, table: str, rows: list[dict]) -> None:
    """COPY ``rows`` (dicts with the same keys) into ``table``; JSON values as their text."""
    columns = list(rows[0])
    with cursor.copy(f'COPY "{table}" ({_column_list(rows)}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in (row[c] for c in columns)])
