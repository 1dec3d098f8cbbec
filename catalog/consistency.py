"""Does the catalog agree with its blob store? What a crash, a full disk or a killed process can leave behind.

``check_catalog`` finds:

- ``orphan_blob``: a blob no catalogued object owns (its source, or its variant, is gone);
- ``unfinished_write``: the temporary file of a blob write that never ended (a local folder only);
- ``missing_blob``: a row whose blob is not in the store (a source picture, or a made output's file);
- ``damaged_blob``: a blob whose size (always checked) or content (``deep``: every byte read and hashed) is not
  what was written (``blob_digest``): a file cut short by a full disk, a bit flipped, a copy gone wrong;
- ``open_attempt``: an attempt still ``running`` whose run is no longer alive (the output too, when it is
  the output's latest attempt);
- ``unknown_blob``: a blob outside the key layout (``catalog.keys``), reported and never removed: a shared
  bucket may hold other people's files.

Blobs younger than the grace period are left alone: ingest writes the blob first and the row second, so
a young blob without a row may be a write in flight. An unfinished write is reported at once, however young, when
its file names a process of this host that is gone (``blobs.write_abandoned``): a check run straight after a crash
mends it. Whether a run is alive is the caller's business
(``run_alive``: the orchestration layer asks Dagster); the catalog knows no Dagster.
``repair_catalog`` removes orphans and unfinished writes, closes open attempts as failed with the reason,
and marks outputs whose files are gone or damaged failed, so that running the same ``meshmill convert`` again makes
them. A source whose picture is gone cannot be made again from the catalog: it is only reported; a damaged one is
removed, so that ingesting the picture again stores it anew.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update

from catalog.blobs import BlobError, BlobStore, Digest, is_temporary, write_abandoned
from catalog.keys import key_owner
from catalog.models import BlobDigest, Output, OutputAttempt, OutputStatus, SourceImage, SourceView, Variant, utcnow
from catalog.records import close_open_attempt

#: seconds a blob must be old before it may be called an orphan (a write in flight is younger)
DEFAULT_GRACE = 3600.0


@dataclass
class Finding:
    kind: str  # orphan_blob, unfinished_write, missing_blob, damaged_blob, open_attempt, unknown_blob
    subject: str  # the blob key, or "output 12 attempt 3"
    detail: str  # what is wrong, in words
    repair: str  # what --repair does about it ("" where it does nothing)
    repaired: bool = False
    # for the repair: the output and attempt an open attempt or a missing file belongs to
    output_id: int | None = None
    attempt: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class _Catalogued:
    objects: set[str]
    views: set[str]
    outputs: set[tuple[str, str]]  # (object hash, variant name)
    referenced: dict[str, tuple[str, int]]  # blob key -> the row that refers to it: ("source" or "output", its id)


def _catalogued(engine: Engine) -> _Catalogued:
    sources, views, outputs, variants = SourceImage.__table__, SourceView.__table__, Output.__table__, Variant.__table__
    with engine.connect() as conn:
        objects = set(conn.execute(select(sources.c.content_hash)).scalars())
        view_rows = conn.execute(select(views.c.content_hash, views.c.blob_key, views.c.source_image_id)).all()
        source_rows = conn.execute(select(sources.c.id, sources.c.blob_key)).all()
        output_rows = conn.execute(
            select(outputs.c.id, outputs.c.status, outputs.c.glb_key, outputs.c.obj_key, outputs.c.preview_key, outputs.c.format_keys,
                   sources.c.content_hash, variants.c.name)
            .join(sources, sources.c.id == outputs.c.source_image_id)
            .join(variants, variants.c.id == outputs.c.variant_id)
        ).all()  # fmt: skip
    referenced = {key: ("source", sid) for sid, key in source_rows}
    referenced.update({key: ("source", sid) for _, key, sid in view_rows})
    for row in output_rows:
        if row.status == OutputStatus.succeeded.value:  # a made output's files must be there
            keys = (row.glb_key, row.obj_key, row.preview_key, *(row.format_keys or {}).values())
            referenced.update({key: ("output", row.id) for key in keys if key})
    return _Catalogued(objects, {h for h, _, _ in view_rows} | objects, {(row.content_hash, row.name) for row in output_rows}, referenced)


def _owner_gone(key: str, known: _Catalogued) -> str | None:
    """Why no catalogued object owns ``key`` (None: one does); raises LookupError for a key outside the layout."""
    owner = key_owner(key)
    if owner is None:
        raise LookupError(key)
    if owner.view is not None:
        return None if owner.view in known.views else "no catalogued object has this picture"
    if owner.object not in known.objects:
        return "its object is not in the catalog"
    if owner.variant is not None and (owner.object, owner.variant) not in known.outputs:
        return f"the catalog has no output of variant {owner.variant!r} for its object"
    return None


def check_catalog(
    engine: Engine,
    blobs: BlobStore,
    *,
    run_alive: Callable[[str], bool] = lambda run_id: False,
    grace: float = DEFAULT_GRACE,
    now: float | None = None,
    deep: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[Finding]:
    """Everything on which the catalog and the blob store disagree (see the module docstring); with ``deep``, every
    referenced blob is read and hashed, ``progress(bytes done, bytes in all)`` called as they are."""
    now = time.time() if now is None else now
    known = _catalogued(engine)
    findings: list[Finding] = []
    stored: dict[str, int] = {}  # key -> its size in the store
    for info in blobs.scan(unfinished=True):
        old = info.modified is None or now - info.modified >= grace
        if is_temporary(info.key):
            if old or write_abandoned(info.key):
                findings.append(Finding("unfinished_write", info.key, "a blob write that never ended", "remove it"))
            continue
        stored[info.key] = info.size
        try:
            why = _owner_gone(info.key, known)
        except LookupError:
            findings.append(Finding("unknown_blob", info.key, "outside Meshmill's key layout (catalog.keys)", ""))
            continue
        if why and old:
            findings.append(Finding("orphan_blob", info.key, why, "remove it"))
    for key, (table, row_id) in sorted(known.referenced.items()):
        if key not in stored:
            output_id = row_id if table == "output" else None
            repair = "mark the output failed, so the next convert makes it again" if output_id else ""
            detail = f"{table} {row_id} refers to it" + ("" if output_id else ": ingest the picture again")
            findings.append(Finding("missing_blob", key, detail, repair, output_id=output_id))
    findings += _damaged(engine, blobs, {key: stored[key] for key in known.referenced if key in stored}, known, deep, progress)
    findings += _open_attempts(engine, run_alive, grace, now)
    return findings


def _damaged(
    engine: Engine,
    blobs: BlobStore,
    sizes: dict[str, int],
    known: _Catalogued,
    deep: bool,
    progress: Callable[[int, int], None] | None,
) -> list[Finding]:
    """The referenced blobs (key -> size in the store) that are not what was written: sizes always, contents when deep."""
    table = BlobDigest.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.key, table.c.byte_size, table.c.sha256)).all()
    written = {row.key: Digest(row.byte_size, row.sha256) for row in rows}
    found: dict[str, str] = {}
    for key, size in sizes.items():
        if key in written and size != written[key].byte_size:
            found[key] = f"{size:,} bytes in the store, {written[key].byte_size:,} written"
    if deep:
        to_hash = sorted(key for key in sizes if key in written and key not in found)
        total, done = sum(sizes[key] for key in to_hash), 0

        def sha256_of(key: str) -> str | None:
            try:
                return Digest.of(blobs.get(key)).sha256
            except BlobError:  # gone since the scan: a re-make in flight, or removed; the next check says
                return None

        with ThreadPoolExecutor(max_workers=8) as pool:  # reading is waiting (a disk, a network): several at once
            for key, sha256 in zip(to_hash, pool.map(sha256_of, to_hash), strict=True):
                if sha256 is not None and sha256 != written[key].sha256:
                    found[key] = f"its bytes are not those written (sha256 {sha256[:12]}…, written {written[key].sha256[:12]}…)"
                done += sizes[key]
                if progress is not None:
                    progress(done, total)
    findings = []
    for key, detail in sorted(found.items()):
        table_name, row_id = known.referenced[key]
        if table_name == "output":
            repair = "mark the output failed, so the next convert makes it again"
            findings.append(Finding("damaged_blob", key, f"{detail}; output {row_id}", repair, output_id=row_id))
        else:
            repair = "remove it, so that ingesting the picture again stores it anew"
            findings.append(Finding("damaged_blob", key, f"{detail}; source {row_id}", repair))
    return findings


def _open_attempts(engine: Engine, run_alive: Callable[[str], bool], grace: float, now: float) -> list[Finding]:
    attempts = OutputAttempt.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(attempts.c.output_id, attempts.c.attempt, attempts.c.dagster_run_id, attempts.c.started_at).where(
                attempts.c.status == OutputStatus.running.value
            )
        ).all()
    found = []
    for row in rows:
        if row.dagster_run_id:
            if run_alive(row.dagster_run_id):
                continue
            why = f"its run {row.dagster_run_id} is no longer alive"
        elif now - _timestamp(row.started_at) >= grace:
            why = "no run is named and it started over the grace period ago"
        else:
            continue
        found.append(
            Finding("open_attempt", f"output {row.output_id} attempt {row.attempt}", f"still running, but {why}",
                    "close it as failed", output_id=row.output_id, attempt=row.attempt)
        )  # fmt: skip
    return found


def _timestamp(when: datetime) -> float:
    """Seconds since the epoch of a stored time (SQLite gives it back without its zone, which is UTC)."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def repair_catalog(engine: Engine, blobs: BlobStore, findings: Iterable[Finding]) -> list[Finding]:
    """Do what each finding's ``repair`` says; returns the findings, those done marked ``repaired``."""
    findings = list(findings)
    outputs = Output.__table__
    for finding in findings:
        if finding.kind in ("orphan_blob", "unfinished_write"):
            blobs.delete(finding.subject)
        elif finding.kind == "open_attempt":
            close_open_attempt(
                engine, finding.output_id, finding.attempt, f"its run stopped before closing it ({finding.detail}); closed by catalog check"
            )
        elif finding.kind in ("missing_blob", "damaged_blob") and finding.output_id is not None:
            what = "missing from" if finding.kind == "missing_blob" else "damaged in"
            with engine.begin() as conn:
                conn.execute(
                    update(outputs)
                    .where(outputs.c.id == finding.output_id, outputs.c.status == OutputStatus.succeeded.value)
                    .values(status=OutputStatus.failed.value, error=f"its file {finding.subject} is {what} the blob store",
                            updated_at=utcnow())
                )  # fmt: skip
        elif finding.kind == "damaged_blob":  # a source's picture: ingesting it again restores a missing one
            blobs.delete(finding.subject)
        else:
            continue
        finding.repaired = True
    return findings
