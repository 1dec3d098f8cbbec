"""Reading the catalog: find by tags, collections, variant, status and review; show one image; edit labels.

``find`` returns one dict per matching source image, newest first, with its outputs; ``summary=True``
leaves out of each output what only its own page shows (parameters, timings, counts, licences…), which
makes a listing page cheaper to read and to build. A label
matches an image when it is on the image itself or on one of its outputs (only the outputs the
variant/status/review filters select, when those are given). Results are paginated by id: pass the last
id you saw as ``before_id`` to get the next page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, and_, exists, func, literal, or_, select, union_all
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from catalog.keys import IMAGE_KEY_LENGTH, hash_prefix_of, image_partition_key
from catalog.labels import LabelKind, attach_labels, detach_labels, label_tables, labels_of, normalise_label
from catalog.models import Collection, Output, OutputStatus, SourceImage, SourceView, Tag, Variant, collection_member, iso_utc
from catalog.records import CatalogError, no_such_variants
from catalog.reviews import REVIEW_FILTERS
from catalog.rows import (
    OUTPUT_COLUMNS,
    SOURCE_COLUMNS,
    SUMMARY_COLUMNS,
    VIEW_COLUMNS,
    CollectionRow,
    OutputDetail,
    OutputRow,
    OutputSummary,
    SourceRecord,
    VariantRow,
    ViewRow,
)

_src = SourceImage.__table__
_out = Output.__table__
_var = Variant.__table__
_tag = Tag.__table__
_coll = Collection.__table__
_view = SourceView.__table__

MAX_PAGE = 1000


def _output_filter(variant_id: int | None, status: str | None, review: str | None = None) -> ColumnElement[bool] | None:
    conditions = []
    if variant_id is not None:
        conditions.append(_out.c.variant_id == variant_id)
    if status is not None:
        conditions.append(_out.c.status == status)
    if review is not None:
        conditions.append(_out.c.review.is_(None) if review == "unreviewed" else _out.c.review == review)
    return and_(*conditions) if conditions else None


def _review_filter(review: str | None) -> str | None:
    if review is not None and review not in REVIEW_FILTERS:
        raise ValueError(f"review {review!r}: use one of {', '.join(REVIEW_FILTERS)}")
    return review


def _has_label(kind: LabelKind, label_id: int, output_filter: ColumnElement[bool] | None) -> ColumnElement[bool]:
    """The image carries the label, itself or on one of its outputs (those ``output_filter`` selects)."""
    _, link, column_name = label_tables(kind)
    column = link.c[column_name]
    on_image = and_(column == label_id, link.c.source_image_id == _src.c.id)
    if output_filter is None:
        return exists().where(on_image)
    # Two correlated probes, not one EXISTS with an OR inside: PostgreSQL plans the OR form as a
    # hashed subplan over every matching output, which grows with the table.
    return or_(
        exists().where(on_image, link.c.output_id.is_(None)),
        exists().where(on_image, _out.c.id == link.c.output_id, output_filter),
    )


def _resolve_names(conn: Connection, tags: list[str], collection: str | None, variant: str | None) -> dict[str, dict[str, int]]:
    """Ids of the named tags, collection and variant, in one round trip (missing names are left out)."""
    parts = []
    if tags:
        parts.append(select(literal("tag").label("kind"), _tag.c.name, _tag.c.id).where(_tag.c.name.in_(tags)))
    if collection is not None:
        parts.append(select(literal("collection"), _coll.c.name, _coll.c.id).where(_coll.c.name == collection))
    if variant is not None:
        parts.append(select(literal("variant"), _var.c.name, _var.c.id).where(_var.c.name == variant.lower()))
    found: dict[str, dict[str, int]] = {"tag": {}, "collection": {}, "variant": {}}
    if parts:
        for kind, name, id_ in conn.execute(union_all(*parts)).all():
            found[kind][name] = id_
    return found


def _matching_sources(
    conn: Connection,
    *,
    tags: Iterable[str] = (),
    any_tags: Iterable[str] = (),
    collection: str | None = None,
    variant: str | None = None,
    status: str | None = None,
    review: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> Select | None:
    """The query for the matching source images, newest first; None when nothing can match."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit {limit} is out of range 1-{MAX_PAGE}")
    if status is not None:
        status = OutputStatus(status).value
    tags = [normalise_label(t, "tag") for t in tags]
    any_tags = [normalise_label(t, "tag") for t in any_tags]
    collection = normalise_label(collection, "collection") if collection is not None else None
    known = _resolve_names(conn, [*tags, *any_tags], collection, variant)
    known_tags = known["tag"]
    variant_id = None
    if variant is not None:
        variant_id = known["variant"].get(variant.lower())
        if variant_id is None:
            return None
    output_filter = _output_filter(variant_id, status, _review_filter(review))

    conditions: list[ColumnElement[bool]] = []
    for tag in tags:
        if tag not in known_tags:
            return None
        conditions.append(_has_label("tag", known_tags[tag], output_filter))
    if any_tags:
        present = [known_tags[t] for t in any_tags if t in known_tags]
        if not present:
            return None
        conditions.append(or_(*(_has_label("tag", i, output_filter) for i in present)))
    if collection is not None:
        if collection not in known["collection"]:
            return None
        conditions.append(_has_label("collection", known["collection"][collection], output_filter))
    if output_filter is not None:
        conditions.append(exists().where(and_(_out.c.source_image_id == _src.c.id, output_filter)))
    if before_id is not None:
        conditions.append(_src.c.id < before_id)
    return select(_src).where(*conditions).order_by(_src.c.id.desc()).limit(limit)


def views_of(conn: Connection, source_ids: list[int]) -> dict[int, list[ViewRow]]:
    """Each object's views, in the order they were recorded (front first)."""
    views: dict[int, list[ViewRow]] = {}
    query = select(_view).where(_view.c.source_image_id.in_(source_ids)).order_by(_view.c.source_image_id, _view.c.id)
    for row in conn.execute(query):
        views.setdefault(row.source_image_id, []).append(ViewRow(**{name: getattr(row, name) for name in VIEW_COLUMNS}))
    return views


def describe_sources(
    conn: Connection,
    source_ids: list[int],
    *,
    variant: str | None = None,
    status: str | None = None,
    review: str | None = None,
    rows: list[Any] | None = None,
    summary: bool = False,
) -> list[SourceRecord]:
    """Records of the given source images, in the given order, with their (filtered) outputs.

    ``rows``: the images' rows, when the caller has them already. ``summary``: outputs carry only
    `SUMMARY_COLUMNS`, their variant, blob keys and labels.
    """
    if not source_ids:
        return []
    if rows is None:
        rows = conn.execute(select(_src).where(_src.c.id.in_(source_ids))).all()
    sources = {row.id: row for row in rows}
    fields = SUMMARY_COLUMNS if summary else OUTPUT_COLUMNS
    columns = [_out.c[name] for name in (*fields, "source_image_id", "glb_key", "obj_key", "preview_key", "format_keys")]
    if not summary:
        columns += [_out.c.created_at, _out.c.updated_at]
    out_query = (
        select(*columns, _var.c.name.label("variant_name"))
        .join(_var, _var.c.id == _out.c.variant_id)
        .where(_out.c.source_image_id.in_(source_ids))
        .order_by(_var.c.name)
    )
    if variant is not None:
        out_query = out_query.where(_var.c.name == variant.lower())
    if status is not None:
        out_query = out_query.where(_out.c.status == OutputStatus(status).value)
    review_filter = _output_filter(None, None, _review_filter(review))
    if review_filter is not None:
        out_query = out_query.where(review_filter)
    outputs: dict[int, list[Any]] = {}
    for row in conn.execute(out_query).all():
        outputs.setdefault(row.source_image_id, []).append(row)
    labels = labels_of(conn, source_ids)
    tags, collections = labels["tag"], labels["collection"]
    views = views_of(conn, source_ids)

    def output_record(row: Any) -> OutputRow | OutputSummary:
        r = row._mapping
        key = (r["source_image_id"], r["id"])
        record = {name: r[name] for name in fields}
        record["variant"] = r["variant_name"]
        record["blob_keys"] = {"glb": r["glb_key"], "obj": r["obj_key"], "preview": r["preview_key"], **(r["format_keys"] or {})}
        record["tags"] = tags.get(key, [])
        record["collections"] = collections.get(key, [])
        if summary:
            return OutputSummary(**record)
        return OutputRow(**record, created_at=iso_utc(r["created_at"]), updated_at=iso_utc(r["updated_at"]))

    records = []
    for source_id in source_ids:
        src = sources.get(source_id)
        if src is None:
            continue
        key = (source_id, None)
        columns = {name: getattr(src, name) for name in SOURCE_COLUMNS}
        records.append(
            SourceRecord(
                **columns,
                created_at=iso_utc(src.created_at),
                views=views.get(source_id, []),
                tags=tags.get(key, []),
                collections=collections.get(key, []),
                outputs=[output_record(o) for o in outputs.get(source_id, [])],
            )
        )
    return records


def find(engine: Engine, *, summary: bool = False, **filters: Any) -> list[SourceRecord]:
    """Matching source images with their outputs (see the module docstring for the filters and ``summary``)."""
    with engine.connect() as conn:
        query = _matching_sources(conn, **filters)
        rows = [] if query is None else conn.execute(query).all()
        ids = [row.id for row in rows]
        variant, status, review = filters.get("variant"), filters.get("status"), filters.get("review")
        return describe_sources(conn, ids, variant=variant, status=status, review=review, rows=rows, summary=summary)


def show(engine: Engine, source_image_id: int) -> SourceRecord:
    with engine.connect() as conn:
        records = describe_sources(conn, [source_image_id])
    if not records:
        raise CatalogError(f"source image {source_image_id} does not exist")
    return records[0]


def output_detail(engine: Engine, output_id: int) -> OutputDetail:
    """One output (``output``) and its source object's record, with all its outputs (``source``)."""
    with engine.connect() as conn:
        source_id = conn.execute(select(_out.c.source_image_id).where(_out.c.id == output_id)).scalar()
        records = [] if source_id is None else describe_sources(conn, [source_id])
    if not records:
        raise CatalogError(f"output {output_id} does not exist")
    (output,) = [o for o in records[0].outputs if o.id == output_id]
    return OutputDetail(source=records[0], output=output)


def output_files(engine: Engine, output_id: int) -> dict[str, Any]:
    """What serving an output's files needs, in one query: its blob keys, the GLB's size as written, variant, source id and
    source file name."""
    query = (
        select(
            _out.c.glb_key,
            _out.c.byte_size,
            _out.c.obj_key,
            _out.c.preview_key,
            _out.c.format_keys,
            _var.c.name.label("variant"),
            _out.c.source_image_id,
            _src.c.filename,
        )
        .join(_var, _var.c.id == _out.c.variant_id)
        .join(_src, _src.c.id == _out.c.source_image_id)
        .where(_out.c.id == output_id)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise CatalogError(f"output {output_id} does not exist")
    return dict(row._mapping)


def source_files(engine: Engine, source_image_id: int, view: str = "front") -> dict[str, Any]:
    """One view of a source object (its blob key, hash and file name; the object's name and hash), in one query."""
    query = (
        select(*(_view.c[name] for name in VIEW_COLUMNS), _src.c.filename.label("object_name"), _src.c.content_hash.label("object_hash"))
        .join(_src, _src.c.id == _view.c.source_image_id)
        .where(_view.c.source_image_id == source_image_id, _view.c.view == view)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
        if row is None and conn.execute(select(_src.c.id).where(_src.c.id == source_image_id)).first() is not None:
            raise CatalogError(f"source image {source_image_id} has no {view} view")
    if row is None:
        raise CatalogError(f"source image {source_image_id} does not exist")
    return dict(row._mapping)


def _output_id(conn: Connection, source_image_id: int, variant: str) -> int:
    output_id = conn.execute(
        select(_out.c.id)
        .join(_var, _var.c.id == _out.c.variant_id)
        .where(_out.c.source_image_id == source_image_id, _var.c.name == variant.lower())
    ).scalar()
    if output_id is None:
        raise CatalogError(f"source image {source_image_id} has no output for variant {variant!r}")
    return output_id


def edit_labels(
    engine: Engine,
    kind: LabelKind,
    source_image_id: int,
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    variant: str | None = None,
) -> list[str]:
    """Add and remove tags or collections on an image (or on its output for ``variant``); returns the new list."""
    add, remove = list(add), list(remove)
    for name in [*add, *remove]:
        normalise_label(name, kind)
    with engine.begin() as conn:
        if conn.execute(select(_src.c.id).where(_src.c.id == source_image_id)).scalar() is None:
            raise CatalogError(f"source image {source_image_id} does not exist")
        output_id = _output_id(conn, source_image_id, variant) if variant else None
        detach_labels(conn, kind, remove, source_image_id, output_id)
        attach_labels(conn, kind, add, source_image_id, output_id)
        return labels_of(conn, [source_image_id])[kind].get((source_image_id, output_id), [])


def list_collections(engine: Engine) -> list[CollectionRow]:
    """Every collection with how many source images it holds and how many outputs are made for it: the succeeded
    outputs of its images, and any output filed in it on its own (each counted once)."""
    table, link, out = Collection.__table__, collection_member, Output.__table__
    images = select(func.count()).where(link.c.collection_id == table.c.id, link.c.output_id.is_(None)).correlate(table).scalar_subquery()
    member_images = select(link.c.source_image_id).where(link.c.collection_id == table.c.id, link.c.output_id.is_(None))
    member_outputs = select(link.c.output_id).where(link.c.collection_id == table.c.id, link.c.output_id.isnot(None))
    outputs = (
        select(func.count(out.c.id))
        .where(
            out.c.status == OutputStatus.succeeded.value,
            or_(out.c.source_image_id.in_(member_images.correlate(table)), out.c.id.in_(member_outputs.correlate(table))),
        )
        .correlate(table)
        .scalar_subquery()
    )
    query = select(table.c.name, images.label("images"), outputs.label("outputs"), table.c.created_at).order_by(table.c.name)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [CollectionRow(name=r.name, images=r.images, outputs=r.outputs, created_at=iso_utc(r.created_at)) for r in rows]


def list_variants(engine: Engine) -> list[VariantRow]:
    with engine.connect() as conn:
        rows = conn.execute(select(_var).order_by(_var.c.name)).all()
    return [VariantRow(**{k: iso_utc(v) for k, v in row._mapping.items()}) for row in rows]


def source_by_partition_key(engine: Engine, image_key: str) -> dict[str, Any]:
    """The source object of an image partition (``duck-98bdb802952779f7``: the object whose content hash starts with
    the key's hex digits; an index range scan), with its ``views``."""
    try:
        prefix = hash_prefix_of(image_key)
    except ValueError as exc:
        raise CatalogError(str(exc)) from None
    with engine.connect() as conn:
        row = conn.execute(select(_src).where(_src.c.content_hash >= prefix, _src.c.content_hash < prefix + "g")).first()
        if row is None:
            raise CatalogError(f"no source image in the catalog has a content hash starting {prefix!r}")
        return {**row._mapping, "views": views_of(conn, [row.id]).get(row.id, [])}


def partition_keys(engine: Engine, content_hashes: Iterable[str]) -> dict[str, str]:
    """Content hash → the image partition key of each catalogued object among ``content_hashes`` (from the name it was
    first catalogued under, so the key stays what it was whatever name the same picture arrives under later)."""
    hashes, keys = sorted(set(content_hashes)), {}
    with engine.connect() as conn:
        for start in range(0, len(hashes), 1000):
            rows = conn.execute(select(_src.c.content_hash, _src.c.filename).where(_src.c.content_hash.in_(hashes[start : start + 1000])))
            keys.update({row.content_hash: image_partition_key(row.content_hash, row.filename) for row in rows})
    return keys


def source_height(engine: Engine, source_image_id: int) -> float | None:
    """The object's real height in metres, as the catalog has it now (it may be said again at any ingest)."""
    with engine.connect() as conn:
        return conn.execute(select(_src.c.height_m).where(_src.c.id == source_image_id)).scalar()


def variant_by_name(engine: Engine, name: str) -> VariantRow:
    with engine.connect() as conn:
        row = conn.execute(select(_var).where(_var.c.name == name.lower())).first()
        if row is None:
            raise CatalogError(no_such_variants([name], conn.execute(select(_var.c.name)).scalars().all()))
    return VariantRow(**{k: iso_utc(v) for k, v in row._mapping.items()})


class MadeOutput(NamedTuple):
    """An output recorded as made: its parameters, and its GLB's key and size as written (to check the blob against);
    ``height_m``: its object's own height as the catalog has it now (an output made before it was said differs)."""

    parameters: dict[str, Any]
    glb_key: str | None
    byte_size: int | None
    height_m: float | None = None


def made_outputs(engine: Engine, image_keys: Iterable[str], variant_names: Iterable[str]) -> dict[tuple[str, str], MadeOutput]:
    """(image partition key, variant) → each output already made (``succeeded``) of these images × variants: what
    a convert run again may skip, once its blob is found as it was written."""
    sources, outputs, variants = SourceImage.__table__, Output.__table__, Variant.__table__
    key_of = {hash_prefix_of(key): key for key in image_keys}
    keys, names = sorted(key_of), sorted(set(variant_names))
    prefix = func.substr(sources.c.content_hash, 1, IMAGE_KEY_LENGTH)
    made: dict[tuple[str, str], MadeOutput] = {}
    with engine.connect() as conn:
        for start in range(0, len(keys), 1000):
            rows = conn.execute(
                select(prefix.label("key"), variants.c.name, outputs.c.parameters, outputs.c.glb_key, outputs.c.byte_size,
                       sources.c.height_m)
                .join(outputs, outputs.c.source_image_id == sources.c.id)
                .join(variants, variants.c.id == outputs.c.variant_id)
                .where(prefix.in_(keys[start : start + 1000]), variants.c.name.in_(names),
                       outputs.c.status == OutputStatus.succeeded.value)
            )  # fmt: skip
            made.update({(key_of[row.key], row.name): MadeOutput(row.parameters, row.glb_key, row.byte_size, row.height_m) for row in rows})
    return made
