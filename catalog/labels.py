"""Tags and collections: validated names, get-or-create, and links to images or outputs; and the origin's check."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from sqlalchemy import Connection, Table, and_, delete, literal, select, union_all

from catalog.bulk import insert_ignoring_duplicates
from catalog.models import Collection, Tag, collection_member, image_tag

LabelKind = Literal["tag", "collection"]
_NAME = re.compile(r"^[a-z0-9][a-z0-9._:/-]{0,63}$")


class LabelError(ValueError):
    """A tag or collection name is not allowed."""


def normalise_label(name: str, kind: str = "tag") -> str:
    """Lower-case ``name`` and check it: 1–64 of a–z 0–9 . _ : / -, starting with a letter or digit."""
    value = name.strip().lower()
    if not _NAME.match(value):
        raise LabelError(f"{kind} {name!r} is not valid: use 1-64 characters a-z 0-9 . _ : / -, starting with a letter or digit")
    return value


#: the longest origin (the style model or tool that made an image) the catalog keeps: ``source_image.origin``'s width
MAX_ORIGIN = 200


def normalise_origin(origin: str | None) -> str | None:
    """``origin`` stripped (None when blank), or LabelError when it is too long or holds a control character."""
    if origin is None or not origin.strip():
        return None
    value = origin.strip()
    if len(value) > MAX_ORIGIN:
        raise LabelError(f"origin is {len(value)} characters long: at most {MAX_ORIGIN}")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise LabelError(f"origin {value[:40]!r} holds a control character (a newline, a tab): give one line of text")
    return value


def label_tables(kind: LabelKind) -> tuple[Table, Table, str]:
    """The label table, its link table, and the link's label column name."""
    if kind == "tag":
        return Tag.__table__, image_tag, "tag_id"
    return Collection.__table__, collection_member, "collection_id"


def label_ids(conn: Connection, kind: LabelKind, names: Iterable[str], *, create: bool) -> dict[str, int]:
    """Map each name to its id, creating missing labels when ``create`` (missing ones are left out otherwise)."""
    wanted = sorted({normalise_label(n, kind) for n in names})
    if not wanted:
        return {}
    table, _, _ = label_tables(kind)
    if create:
        insert_ignoring_duplicates(conn, table, [{"name": n} for n in wanted])
    rows = conn.execute(select(table.c.name, table.c.id).where(table.c.name.in_(wanted)))
    return {name: id_ for name, id_ in rows}


def attach_labels(conn: Connection, kind: LabelKind, names: Iterable[str], source_image_id: int, output_id: int | None = None) -> None:
    label_many(conn, kind, [(source_image_id, tuple(names))], output_id)


def label_many(conn: Connection, kind: LabelKind, targets: list[tuple[int, Iterable[str]]], output_id: int | None = None) -> None:
    """Attach labels to many source images (or, with ``output_id``, to that output) at once."""
    targets = [(source_id, [normalise_label(n, kind) for n in names]) for source_id, names in targets]
    ids = label_ids(conn, kind, [n for _, names in targets for n in names], create=True)
    _, link, column = label_tables(kind)
    rows = [{column: ids[name], "source_image_id": source_id, "output_id": output_id} for source_id, names in targets for name in names]
    insert_ignoring_duplicates(conn, link, rows)


def detach_labels(conn: Connection, kind: LabelKind, names: Iterable[str], source_image_id: int, output_id: int | None = None) -> None:
    ids = label_ids(conn, kind, names, create=False)
    if not ids:
        return
    _, link, column = label_tables(kind)
    on_target = link.c.output_id.is_(None) if output_id is None else link.c.output_id == output_id
    conn.execute(delete(link).where(and_(link.c[column].in_(list(ids.values())), link.c.source_image_id == source_image_id, on_target)))


def labels_of(conn: Connection, source_image_ids: list[int]) -> dict[LabelKind, dict[tuple[int, int | None], list[str]]]:
    """Tags and collections of the given images and their outputs, keyed by (source_image_id, output_id or None)."""
    found: dict[LabelKind, dict[tuple[int, int | None], list[str]]] = {"tag": {}, "collection": {}}
    if not source_image_ids:
        return found
    parts = []
    for kind in ("tag", "collection"):
        table, link, column = label_tables(kind)
        parts.append(
            select(literal(kind).label("kind"), link.c.source_image_id, link.c.output_id, table.c.name)
            .join(table, table.c.id == link.c[column])
            .where(link.c.source_image_id.in_(source_image_ids))
        )
    rows = conn.execute(union_all(*parts).order_by("name")).all()
    for kind, source_id, output_id, name in rows:
        found[kind].setdefault((source_id, output_id), []).append(name)
    return found
