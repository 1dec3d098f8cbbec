"""Tags and collections: validated names, get-or-create, and links to images or outputs."""

from __future__ import annotations

import re
from typing import Iterable, Literal

from sqlalchemy import Connection, Table, and_, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from catalog.models import Collection, Tag, collection_member, image_tag

LabelKind = Literal["tag", "collection"]
_NAME = re.compile(r"^[a-z0-9][a-z0-9._:/-]{0,63}$")


class LabelError(ValueError):
    """A tag or collection name is not allowed."""


def normalise_label(name: str, kind: str = "tag") -> str:
    """Lower-case ``name`` and check it: 1–64 of a–z 0–9 . _ : / -, starting with a letter or digit."""
    value = name.strip().lower()
    if not _NAME.match(value):
        raise LabelError(
            f"{kind} {name!r} is not valid: use 1-64 characters a-z 0-9 . _ : / -, starting with a letter or digit"
        )
    return value


def insert_ignoring_duplicates(conn: Connection, table: Table, rows: list[dict]) -> None:
    """INSERT … ON CONFLICT DO NOTHING, on SQLite and PostgreSQL alike."""
    if not rows:
        return
    conn.execute(_insert(conn, table).on_conflict_do_nothing(), rows)


def insert_if_absent(conn: Connection, table: Table, row: dict) -> int | None:
    """Insert ``row`` unless it collides with a unique key; the new id, or None if it collided."""
    statement = _insert(conn, table).values(**row).on_conflict_do_nothing().returning(table.c.id)
    return conn.execute(statement).scalar()


def _insert(conn: Connection, table: Table):  # noqa: ANN202
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def _label_tables(kind: LabelKind) -> tuple[Table, Table, str]:
    if kind == "tag":
        return Tag.__table__, image_tag, "tag_id"
    return Collection.__table__, collection_member, "collection_id"


def label_ids(conn: Connection, kind: LabelKind, names: Iterable[str], *, create: bool) -> dict[str, int]:
    """Map each name to its id, creating missing labels when ``create`` (missing ones are left out otherwise)."""
    wanted = sorted({normalise_label(n, kind) for n in names})
    if not wanted:
        return {}
    table, _, _ = _label_tables(kind)
    if create:
        insert_ignoring_duplicates(conn, table, [{"name": n} for n in wanted])
    rows = conn.execute(select(table.c.name, table.c.id).where(table.c.name.in_(wanted)))
    return {name: id_ for name, id_ in rows}


def attach_labels(
    conn: Connection, kind: LabelKind, names: Iterable[str], source_image_id: int, output_id: int | None = None
) -> None:
    ids = label_ids(conn, kind, names, create=True)
    _, link, column = _label_tables(kind)
    rows = [{column: i, "source_image_id": source_image_id, "output_id": output_id} for i in ids.values()]
    insert_ignoring_duplicates(conn, link, rows)


def detach_labels(
    conn: Connection, kind: LabelKind, names: Iterable[str], source_image_id: int, output_id: int | None = None
) -> None:
    ids = label_ids(conn, kind, names, create=False)
    if not ids:
        return
    _, link, column = _label_tables(kind)
    on_target = link.c.output_id.is_(None) if output_id is None else link.c.output_id == output_id
    conn.execute(
        delete(link).where(
            and_(link.c[column].in_(list(ids.values())), link.c.source_image_id == source_image_id, on_target)
        )
    )


def labels_of(conn: Connection, kind: LabelKind, source_image_ids: list[int]) -> dict[tuple[int, int | None], list[str]]:
    """Labels keyed by (source_image_id, output_id or None), names sorted."""
    if not source_image_ids:
        return {}
    table, link, column = _label_tables(kind)
    rows = conn.execute(
        select(link.c.source_image_id, link.c.output_id, table.c.name)
        .join(table, table.c.id == link.c[column])
        .where(link.c.source_image_id.in_(source_image_ids))
        .order_by(table.c.name)
    )
    found: dict[tuple[int, int | None], list[str]] = {}
    for source_id, output_id, name in rows:
        found.setdefault((source_id, output_id), []).append(name)
    return found
