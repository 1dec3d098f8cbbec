"""Writing to the catalog: source images, variants and outputs. Every call is one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import Engine, select, update

from catalog.labels import attach_labels, insert_if_absent, insert_ignoring_duplicates, normalise_label
from catalog.models import Output, OutputStatus, SourceImage, Variant, utcnow


class CatalogError(LookupError):
    """A catalog record that was asked for does not exist, or a request contradicts what is stored."""


@dataclass(frozen=True)
class SourceRecord:
    id: int
    created: bool  # False: an image with the same content hash was already catalogued


def record_source(
    engine: Engine,
    *,
    content_hash: str,
    filename: str,
    width: int,
    height: int,
    mode: str,
    byte_size: int,
    blob_key: str,
    origin: str | None = None,
    source_format: str | None = None,
    tags: Iterable[str] = (),
    collections: Iterable[str] = (),
) -> SourceRecord:
    """Record a stored source image, or find the one with the same content; then attach labels.

    Safe under concurrency: several processes recording the same content end with one row.
    """
    tags, collections = list(tags), list(collections)
    for name in tags:
        normalise_label(name, "tag")
    for name in collections:
        normalise_label(name, "collection")
    row = {
        "content_hash": content_hash,
        "filename": filename[-512:],
        "origin": origin,
        "width": width,
        "height": height,
        "mode": mode,
        "source_format": source_format,
        "byte_size": byte_size,
        "blob_key": blob_key,
        "created_at": utcnow(),
    }
    table = SourceImage.__table__
    with engine.begin() as conn:
        new_id = insert_if_absent(conn, table, row)
        source_id = new_id or conn.execute(select(table.c.id).where(table.c.content_hash == content_hash)).scalar_one()
        attach_labels(conn, "tag", tags, source_id)
        attach_labels(conn, "collection", collections, source_id)
    return SourceRecord(source_id, created=new_id is not None)


def label_source(engine: Engine, source_image_id: int, *, tags: Iterable[str] = (), collections: Iterable[str] = ()) -> None:
    """Attach tags and collections to an existing source image."""
    with engine.begin() as conn:
        attach_labels(conn, "tag", tags, source_image_id)
        attach_labels(conn, "collection", collections, source_image_id)


def source_id_by_hash(engine: Engine, content_hash: str) -> int | None:
    table = SourceImage.__table__
    with engine.connect() as conn:
        return conn.execute(select(table.c.id).where(table.c.content_hash == content_hash)).scalar()


VARIANT_FIELDS = ("backend", "preset", "steps", "guidance", "target_faces", "seed", "texture_size")


def define_variant(engine: Engine, name: str, *, backend: str, extra: dict[str, Any] | None = None, **fields: Any) -> int:
    """Create the variant ``name``, or update its parameters if it exists; returns its id."""
    unknown = set(fields) - set(VARIANT_FIELDS)
    if unknown:
        raise TypeError(f"unknown variant fields: {', '.join(sorted(unknown))}")
    name = normalise_label(name, "variant")
    values = {"backend": backend, **fields, "extra": extra or {}}
    table = Variant.__table__
    with engine.begin() as conn:
        insert_ignoring_duplicates(conn, table, [{"name": name, "created_at": utcnow(), **values}])
        conn.execute(update(table).where(table.c.name == name).values(**values))
        return conn.execute(select(table.c.id).where(table.c.name == name)).scalar_one()


def variant_id(engine: Engine, name: str) -> int:
    table = Variant.__table__
    with engine.connect() as conn:
        found = conn.execute(select(table.c.id).where(table.c.name == name.lower())).scalar()
    if found is None:
        raise CatalogError(f"variant {name!r} does not exist (see `meshmill variant list`)")
    return found


OUTPUT_FIELDS = (
    "status", "error", "parameters", "model_name", "model_version", "face_count", "vertex_count",
    "byte_size", "glb_key", "obj_key", "preview_key", "timings", "dagster_run_id",
)  # fmt: skip


def record_output(engine: Engine, source_image_id: int, variant_id: int, **fields: Any) -> int:
    """Create or update the output of one source image × variant; returns its id."""
    unknown = set(fields) - set(OUTPUT_FIELDS)
    if unknown:
        raise TypeError(f"unknown output fields: {', '.join(sorted(unknown))}")
    if "status" in fields:
        fields["status"] = OutputStatus(fields["status"]).value
    table = Output.__table__
    key = (table.c.source_image_id == source_image_id) & (table.c.variant_id == variant_id)
    with engine.begin() as conn:
        if conn.execute(select(SourceImage.__table__.c.id).where(SourceImage.__table__.c.id == source_image_id)).scalar() is None:
            raise CatalogError(f"source image {source_image_id} does not exist")
        now = utcnow()
        insert_ignoring_duplicates(
            conn,
            table,
            [{"source_image_id": source_image_id, "variant_id": variant_id, "status": OutputStatus.pending.value,
              "parameters": {}, "timings": {}, "created_at": now, "updated_at": now}],
        )  # fmt: skip
        conn.execute(update(table).where(key).values(**fields, updated_at=now))
        return conn.execute(select(table.c.id).where(key)).scalar_one()
