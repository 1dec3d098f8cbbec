"""Writing to the catalog: source images, variants and outputs. Every call is one transaction."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, func, insert, select, update

from catalog.blobs import BlobStore, Digest
from catalog.bulk import dialect_insert, insert_all, insert_ignoring_duplicates, insert_returning_new
from catalog.claims import MadeMeanwhile, OutputClaimed, stale_before
from catalog.keys import output_blob_keys
from catalog.labels import attach_labels, label_many, normalise_label
from catalog.models import BlobDigest, Output, OutputAttempt, OutputStatus, SourceImage, SourceView, Variant, iso_utc, utcnow
from catalog.rows import AttemptRow


class CatalogError(LookupError):
    """A catalog record that was asked for does not exist, or a request contradicts what is stored."""


@dataclass(frozen=True)
class SourceRecord:
    id: int
    created: bool  # False: an image with the same content hash was already catalogued


@dataclass(frozen=True)
class NewView:
    """One stored picture of a source object."""

    view: str
    content_hash: str
    filename: str
    width: int
    height: int
    mode: str
    byte_size: int
    blob_key: str
    source_format: str | None = None


#: what a source row says of its (front) picture, as a view says it of its own
_PICTURE_FIELDS = tuple(f.name for f in fields(NewView) if f.name not in ("view", "content_hash"))


@dataclass(frozen=True)
class NewSource:
    """A stored source object to record, with the labels to attach to it.

    ``views``: its pictures, front first; without them the object is one front view, the picture the
    other fields describe. With them, the picture fields are the front's (``filename`` names the set)."""

    content_hash: str
    filename: str
    width: int
    height: int
    mode: str
    byte_size: int
    blob_key: str
    origin: str | None = None
    source_format: str | None = None
    height_m: float | None = None  # the object's real height in metres, where the studio said it
    tags: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    views: tuple[NewView, ...] = ()

    @classmethod
    def of_views(cls, content_hash: str, name: str, views: Iterable[NewView], **said: Any) -> NewSource:
        """An object of these views, front first: its picture fields are the front's, ``name`` names it;
        ``said``: origin, height_m, tags, collections."""
        views = tuple(views)
        picture = {field: getattr(views[0], field) for field in _PICTURE_FIELDS if field != "filename"}
        return cls(content_hash, name, **picture, views=views, **said)

    def view_rows(self) -> tuple[NewView, ...]:
        if self.views:
            return self.views
        return (NewView("front", self.content_hash, **{name: getattr(self, name) for name in _PICTURE_FIELDS}),)


_BATCH = 1000  # hashes per IN list: well under PostgreSQL's 65,535 bound parameters


def record_sources(engine: Engine, sources: Iterable[NewSource]) -> list[SourceRecord]:
    """Record many stored images in one transaction (or find those already catalogued), with labels.

    Safe under concurrency: several processes recording the same content end with one row each,
    and exactly one of them is told it created it.
    """
    sources = list(sources)  # a bad label raises inside the transaction, which then writes nothing
    table = SourceImage.__table__
    now = utcnow()
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        rows = [
            {
                "content_hash": s.content_hash,
                "filename": s.filename[-512:],
                "origin": s.origin,
                "height_m": s.height_m,
                "width": s.width,
                "height": s.height,
                "mode": s.mode,
                "source_format": s.source_format,
                "byte_size": s.byte_size,
                "blob_key": s.blob_key,
                "created_at": now,
            }
            for s in sources
        ]
        ids.update(insert_returning_new(conn, table, rows, table.c.content_hash))
        created = set(ids)
        views, recorded = [], set()
        for s in sources:
            if s.content_hash in created and s.content_hash not in recorded:  # the views of the objects this call created
                recorded.add(s.content_hash)
                views += [{"source_image_id": ids[s.content_hash], **vars(v)} for v in s.view_rows()]
        insert_all(conn, SourceView.__table__, views)
        hashes = list({s.content_hash for s in sources} - created)  # already catalogued
        for start in range(0, len(hashes), _BATCH):
            chunk = hashes[start : start + _BATCH]
            ids.update(conn.execute(select(table.c.content_hash, table.c.id).where(table.c.content_hash.in_(chunk))).all())
        for kind, attribute in (("tag", "tags"), ("collection", "collections")):
            label_many(conn, kind, [(ids[s.content_hash], getattr(s, attribute)) for s in sources])
        for s in sources:  # a height said again for an object already catalogued replaces the one it had
            if s.content_hash not in created:
                _set_height(conn, ids[s.content_hash], s.height_m)
    records = []
    for s in sources:  # a hash given twice was created by its first occurrence only
        records.append(SourceRecord(ids[s.content_hash], created=s.content_hash in created))
        created.discard(s.content_hash)
    return records


def record_source(engine: Engine, **fields: Any) -> SourceRecord:
    """Record one stored object (see ``record_sources``); keyword arguments are ``NewSource``'s fields."""
    for name in ("tags", "collections", "views"):
        fields[name] = tuple(fields.get(name, ()))
    return record_sources(engine, [NewSource(**fields)])[0]


def label_source(
    engine: Engine,
    source_image_id: int,
    *,
    tags: Iterable[str] = (),
    collections: Iterable[str] = (),
    height_m: float | None = None,
) -> None:
    """Attach tags and collections to an existing source image, and give it a real height (metres) if one is said."""
    with engine.begin() as conn:
        attach_labels(conn, "tag", tags, source_image_id)
        attach_labels(conn, "collection", collections, source_image_id)
        _set_height(conn, source_image_id, height_m)


def _set_height(conn: Connection, source_image_id: int, height_m: float | None) -> None:
    """Give a catalogued object the real height said for it (none said: it keeps the one it has)."""
    if height_m is not None:
        table = SourceImage.__table__
        conn.execute(update(table).where(table.c.id == source_image_id).values(height_m=height_m))


def source_id_by_hash(engine: Engine, content_hash: str) -> int | None:
    table = SourceImage.__table__
    with engine.connect() as conn:
        return conn.execute(select(table.c.id).where(table.c.content_hash == content_hash)).scalar()


def view_in_catalog(engine: Engine, content_hash: str) -> bool:
    """Whether some catalogued object has a view with this picture (whose blob must then stay)."""
    table = SourceView.__table__
    with engine.connect() as conn:
        return conn.execute(select(table.c.id).where(table.c.content_hash == content_hash).limit(1)).first() is not None


#: the columns a variant's parameters are copied into, for listing and filtering (``params`` holds them all)
VARIANT_FIELDS = ("backend", "preset", "steps", "guidance", "target_faces", "seed", "texture_size")


def define_variant(engine: Engine, name: str, params: dict[str, Any]) -> int:
    """Create the variant ``name`` with these generation parameters, or replace its parameters if it exists; returns
    its id. ``params`` is stored as given: the caller resolves it completely (``meshmill variant add`` does), since
    reading a variant never fills anything in from a preset."""
    if "backend" not in params:
        raise TypeError("a variant's parameters name its backend")
    name = normalise_label(name, "variant")
    values = {**{k: params.get(k) for k in VARIANT_FIELDS}, "params": params, "extra": {}}
    table = Variant.__table__
    with engine.begin() as conn:
        insert_ignoring_duplicates(conn, table, [{"name": name, "created_at": utcnow(), **values}])
        conn.execute(update(table).where(table.c.name == name).values(**values))
        return conn.execute(select(table.c.id).where(table.c.name == name)).scalar_one()


def remove_variant(engine: Engine, blobs: BlobStore, name: str, *, with_outputs: bool = False) -> int:
    """Remove the variant ``name``; returns how many outputs went with it. A variant with outputs is refused unless
    ``with_outputs``: then its outputs' rows go in the same transaction (attempts and labels with them), and their
    files after it (a file left by a failure there is found by ``meshmill catalog check --repair``)."""
    variants, outputs, sources = Variant.__table__, Output.__table__, SourceImage.__table__
    with engine.begin() as conn:
        variant = conn.execute(select(variants.c.id, variants.c.name).where(variants.c.name == name.lower())).first()
        if variant is None:
            raise CatalogError(no_such_variants([name], conn.execute(select(variants.c.name)).scalars().all()))
        made = conn.execute(
            select(sources.c.content_hash, outputs.c.format_keys)
            .join(sources, sources.c.id == outputs.c.source_image_id)
            .where(outputs.c.variant_id == variant.id)
        ).all()
        if made and not with_outputs:
            raise CatalogError(
                f"variant {variant.name!r} has {len(made):,} output{'s' if len(made) != 1 else ''}: pass --with-outputs to "
                "remove them too (their files are deleted from the store)"
            )
        conn.execute(outputs.delete().where(outputs.c.variant_id == variant.id))
        conn.execute(variants.delete().where(variants.c.id == variant.id))
    for content_hash, format_keys in made:
        for key in [*output_blob_keys(content_hash, variant.name), *(format_keys or {}).values()]:
            blobs.delete(key)
    return len(made)


def no_such_variants(names: Iterable[str], defined: Iterable[str]) -> str:
    """What to say of variant names the catalog does not have: the ones it has, and the nearest to a typo."""
    names, defined = list(names), sorted(defined)
    said = ", ".join(repr(n) for n in names)
    near = [m for n in names for m in difflib.get_close_matches(n.lower(), defined, n=1)]
    there = f"the variants are {', '.join(defined)}" if defined else "no variant is defined yet"
    guess = f"; did you mean {' or '.join(repr(m) for m in near)}?" if near else ""
    return f"no variant {said}: {there}{guess} (`meshmill variant add NAME …` defines one)"


def freeze_variant(engine: Engine, variant_id: int, params: dict[str, Any]) -> None:
    """Store the resolved parameters of a variant made before migration 0009, once (a variant that has them keeps them)."""
    table = Variant.__table__
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == variant_id, table.c.params.is_(None)).values(params=params))


OUTPUT_FIELDS = (
    "status",
    "error",
    "parameters",
    "model_name",
    "model_version",
    "face_count",
    "vertex_count",
    "byte_size",
    "glb_key",
    "obj_key",
    "preview_key",
    "timings",
    "licences",
    "views",
    "lod_face_counts",
    "quad_count",
    "format_keys",
    "dagster_run_id",
)


def record_output(engine: Engine, source_image_id: int, variant_id: int, **fields: Any) -> int:
    """Create or update the output of one source image × variant; returns its id."""
    _known_output_fields(fields)
    table = Output.__table__
    with engine.begin() as conn:
        output_id = _output_row(conn, source_image_id, variant_id)
        conn.execute(update(table).where(table.c.id == output_id).values(**fields, updated_at=utcnow()))
        return output_id


def _known_output_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(OUTPUT_FIELDS)
    if unknown:
        raise TypeError(f"unknown output fields: {', '.join(sorted(unknown))}")
    if "status" in fields:
        fields["status"] = OutputStatus(fields["status"]).value


def _output_row(conn: Connection, source_image_id: int, variant_id: int) -> int:
    """The id of the output of one source image × variant, made pending if there was none; its row locked until
    the transaction ends (on PostgreSQL; SQLite's writers queue for the whole file)."""
    table = Output.__table__
    if conn.execute(select(SourceImage.__table__.c.id).where(SourceImage.__table__.c.id == source_image_id)).scalar() is None:
        raise CatalogError(f"source image {source_image_id} does not exist")
    now = utcnow()
    row = {"source_image_id": source_image_id, "variant_id": variant_id, "status": OutputStatus.pending.value, "parameters": {},
           "timings": {}, "created_at": now, "updated_at": now}  # fmt: skip
    insert_ignoring_duplicates(conn, table, [row])
    key = (table.c.source_image_id == source_image_id) & (table.c.variant_id == variant_id)
    return conn.execute(select(table.c.id).where(key).with_for_update()).scalar_one()


def start_attempt(
    engine: Engine,
    source_image_id: int,
    variant_id: int,
    *,
    parameters: dict[str, Any],
    dagster_run_id: str | None = None,
    made_since: datetime | None = None,
) -> tuple[int, int]:
    """Claim the output for this run, mark it running and open a new attempt; returns (output id, attempt number).

    Raises ``OutputClaimed`` while another run holds a live claim on it (``catalog.claims``), and, given
    ``made_since`` (when this run was planned), ``MadeMeanwhile`` when another run made it since then with the
    same ``parameters``: the caller waits, or takes what was made."""
    table = Output.__table__
    with engine.begin() as conn:
        output_id = _output_row(conn, source_image_id, variant_id)
        now, other_run = utcnow(), table.c.dagster_run_id.is_distinct_from(dagster_run_id)
        holder = conn.execute(
            select(table.c.dagster_run_id).where(
                table.c.id == output_id, table.c.status == OutputStatus.running.value, other_run, table.c.heartbeat_at > stale_before()
            )
        ).first()
        if holder is not None:
            raise OutputClaimed(output_id, holder.dagster_run_id)
        attempts = OutputAttempt.__table__
        if made_since is not None:  # made by another run's attempt that ended after this run was planned
            made = conn.execute(
                select(table.c.dagster_run_id, table.c.parameters).where(
                    table.c.id == output_id,
                    table.c.status == OutputStatus.succeeded.value,
                    other_run,
                    select(attempts.c.id)
                    .where(
                        attempts.c.output_id == output_id,
                        attempts.c.status == OutputStatus.succeeded.value,
                        attempts.c.finished_at >= made_since.astimezone(UTC),  # stored in UTC
                    )
                    .exists(),
                )
            ).first()
            if made is not None and made.parameters == json.loads(json.dumps(parameters)):
                raise MadeMeanwhile(output_id, made.dagster_run_id)
        conn.execute(
            update(table)
            .where(table.c.id == output_id)
            .values(status=OutputStatus.running.value, error=None, parameters=parameters, dagster_run_id=dagster_run_id,
                    heartbeat_at=now, updated_at=now)
        )  # fmt: skip
        previous = conn.execute(select(func.max(attempts.c.attempt)).where(attempts.c.output_id == output_id)).scalar() or 0
        # an attempt still running now was left so by a process that stopped (killed, out of memory): close it
        conn.execute(
            update(attempts)
            .where(attempts.c.output_id == output_id, attempts.c.status == OutputStatus.running.value)
            .values(status=OutputStatus.failed.value, error=f"its process stopped; superseded by attempt {previous + 1}", finished_at=now)
        )
        conn.execute(
            insert(attempts).values(
                output_id=output_id,
                attempt=previous + 1,
                status=OutputStatus.running.value,
                parameters=parameters,
                timings={},
                dagster_run_id=dagster_run_id,
                started_at=now,
            )
        )
    return output_id, previous + 1


def record_digests(engine_or_conn: Engine | Connection, digests: Mapping[str, Digest]) -> None:
    """Record what each blob held when it was written (the newest write of a key replaces what was recorded)."""
    if not digests:
        return
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            record_digests(conn, digests)
        return
    conn, table, now = engine_or_conn, BlobDigest.__table__, utcnow()
    rows = [{"key": key, "byte_size": d.byte_size, "sha256": d.sha256, "written_at": now} for key, d in sorted(digests.items())]
    statement = dialect_insert(conn, table)
    conn.execute(statement.on_conflict_do_update(index_elements=[table.c.key], set_={
        "byte_size": statement.excluded.byte_size, "sha256": statement.excluded.sha256, "written_at": statement.excluded.written_at}),
        rows)  # fmt: skip


def finish_attempt(
    engine: Engine,
    output_id: int,
    attempt: int,
    *,
    status: str,
    error: str | None = None,
    output_status: str | None = None,
    digests: Mapping[str, Digest] | None = None,
    **output_fields: Any,
) -> None:
    """Close an attempt as succeeded or failed and bring the output up to date with it; ``output_status``
    when the output's differs (a new shape whose GLB is still to be made leaves it pending); ``digests``: what
    the files it wrote held (``record_digests``), recorded in the same transaction."""
    status = OutputStatus(status).value
    output_status = OutputStatus(output_status or status).value
    table = Output.__table__
    _known_output_fields(output_fields)
    now = utcnow()
    with engine.begin() as conn:
        # with the seconds the earlier stages noted on the attempt (note_shape)
        timings = _add_timings(conn, output_id, attempt, output_fields.get("timings", {}))
        if "timings" in output_fields:
            output_fields = {**output_fields, "timings": timings}
        conn.execute(
            update(table).where(table.c.id == output_id).values(status=output_status, error=error, updated_at=now, **output_fields)
        )
        conn.execute(
            update(OutputAttempt.__table__).where(_attempt(output_id, attempt)).values(status=status, error=error, finished_at=now)
        )
        record_digests(conn, digests or {})


def close_run_attempts(engine: Engine, dagster_run_id: str, error: str) -> int:
    """Close as failed, with ``error``, the attempts a run left running (its process died); returns how many."""
    attempts = OutputAttempt.__table__
    with engine.connect() as conn:
        open_ = conn.execute(
            select(attempts.c.output_id, attempts.c.attempt).where(
                attempts.c.dagster_run_id == dagster_run_id, attempts.c.status == OutputStatus.running.value
            )
        ).all()
    for output_id, attempt in open_:
        close_open_attempt(engine, output_id, attempt, error)
    return len(open_)


def close_open_attempt(engine: Engine, output_id: int, attempt: int, error: str) -> None:
    """Close a still-running attempt as failed, with ``error``; its output too, when it is the output's latest attempt."""
    attempts, outputs = OutputAttempt.__table__, Output.__table__
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            update(attempts)
            .where(_attempt(output_id, attempt), attempts.c.status == OutputStatus.running.value)
            .values(status=OutputStatus.failed.value, error=error, finished_at=now)
        )
        latest = conn.execute(select(func.max(attempts.c.attempt)).where(attempts.c.output_id == output_id)).scalar()
        if latest == attempt:
            conn.execute(
                update(outputs)
                .where(outputs.c.id == output_id, outputs.c.status == OutputStatus.running.value)
                .values(status=OutputStatus.failed.value, error=error, updated_at=now)
            )


def note_shape(engine: Engine, output_id: int, attempt: int, *, model_name: str, model_version: str, timings: dict[str, float]) -> None:
    """The shape stage's part of a running attempt: the model that made the shape (on the attempt, and on the
    output at once) and the stage's seconds, which ``finish_attempt`` carries to the output with its own."""
    model = {"model_name": model_name, "model_version": model_version}
    with engine.begin() as conn:
        _add_timings(conn, output_id, attempt, timings)
        conn.execute(update(OutputAttempt.__table__).where(_attempt(output_id, attempt)).values(**model))
        conn.execute(update(Output.__table__).where(Output.__table__.c.id == output_id).values(**model, updated_at=utcnow()))


def _attempt(output_id: int, attempt: int) -> ColumnElement[bool]:
    attempts = OutputAttempt.__table__
    return (attempts.c.output_id == output_id) & (attempts.c.attempt == attempt)


def _add_timings(conn: Connection, output_id: int, attempt: int, timings: dict[str, float]) -> dict[str, float]:
    """Merge ``timings`` into the attempt's; returns the merged seconds by stage."""
    attempts = OutputAttempt.__table__
    merged = {**(conn.execute(select(attempts.c.timings).where(_attempt(output_id, attempt))).scalar() or {}), **timings}
    conn.execute(update(attempts).where(_attempt(output_id, attempt)).values(timings=merged))
    return merged


def running_attempt(engine: Engine, source_image_id: int, variant_id: int, dagster_run_id: str) -> tuple[int, int] | None:
    """(output id, attempt) of the attempt a run opened on this output and has not closed, if any."""
    outputs, attempts = Output.__table__, OutputAttempt.__table__
    query = (
        select(outputs.c.id, attempts.c.attempt)
        .join(attempts, attempts.c.output_id == outputs.c.id)
        .where(
            outputs.c.source_image_id == source_image_id,
            outputs.c.variant_id == variant_id,
            attempts.c.dagster_run_id == dagster_run_id,
            attempts.c.status == OutputStatus.running.value,
        )
        .order_by(attempts.c.attempt.desc())
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return (row.id, row.attempt) if row else None


def attempts_of(engine: Engine, output_id: int) -> list[AttemptRow]:
    """The output's attempts, first first."""
    table = OutputAttempt.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.output_id == output_id).order_by(table.c.attempt)).all()
    return [AttemptRow(**{k: iso_utc(v) for k, v in row._mapping.items()}) for row in rows]
