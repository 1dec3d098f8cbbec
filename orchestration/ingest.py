"""Ingest: decode each object's views, store each as a blob, and record the object in the catalog.

Which files make which object is ``orchestration.source_sets``'s business (single images and view
sets). The blobs are written first and the row second, so a crash never leaves a row without its
blobs; a blob whose row could not be written is removed again unless another object uses the same
picture. Blobs are content-addressed, so several processes ingesting the same object write the same
bytes to the same keys and one row wins.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine

from catalog import BlobStore, Digest, NewSource, NewView, label_source, record_digests, record_sources, source_id_by_hash, view_in_catalog
from catalog.blobs import disk_full
from catalog.keys import object_hash, source_key
from catalog.labels import normalise_label, normalise_origin
from inference.images.decode import DecodedImage, ImageError, decode_image, encode_png, too_small
from orchestration.source_sets import SetProblem, SourceSet, discover_sets

#: the views of one object may differ in shape (a sofa is wide from the front, narrow from the side), but
#: pictures whose width:height differ more than this are not one turnaround
MAX_ASPECT_SPREAD = 2.5


@dataclass(frozen=True)
class IngestResult:
    path: Path  # the image, the set's folder or sidecar: what the user looks for
    outcome: Literal["added", "duplicate", "failed"]
    source_id: int | None = None
    detail: str = ""
    content_hash: str | None = None  # the object's; None when its files could not be read
    name: str = ""  # the object's name in the catalog
    views: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()  # a duplicate's views whose lost blobs this ingest stored again


def ingest_set(
    source_set: SourceSet,
    engine: Engine,
    blobs: BlobStore,
    *,
    collections: Iterable[str] = (),
    tags: Iterable[str] = (),
    origin: str | None = None,
    height_m: float | None = None,
) -> IngestResult:
    """Ingest one object; never raises for bad files, returns a ``failed`` result naming the set and the problem.
    ``height_m``: its real height in metres, unless its sidecar says one (which replaces what the catalog had)."""
    views = tuple(source_set.views)

    def failed(detail: str, view: str | None = None, content_hash: str | None = None) -> IngestResult:
        if view is not None and len(views) > 1:
            detail = f"{view} view ({source_set.views[view].name}): {detail}"
        return IngestResult(source_set.where, "failed", detail=detail, content_hash=content_hash, name=source_set.name, views=views)

    try:
        labels = {
            "tags": tuple(normalise_label(t, "tag") for t in (*tags, *source_set.tags)),
            "collections": tuple(normalise_label(c, "collection") for c in (*collections, *source_set.collections)),
        }
        origin = normalise_origin(source_set.origin or origin)
        height_m = source_set.height_m or height_m
    except ValueError as exc:
        return failed(str(exc))
    data: dict[str, bytes] = {}
    for view, path in source_set.views.items():
        try:
            data[view] = path.read_bytes()
        except OSError as exc:
            return failed(f"cannot read: {exc.strerror or exc}", view)
    hashes = {view: hashlib.sha256(content).hexdigest() for view, content in data.items()}
    content_hash = object_hash(hashes)
    existing = source_id_by_hash(engine, content_hash)
    if existing is not None:
        # a catalogued picture whose blob has gone (a disk lost, a bucket emptied) is stored again from this file:
        # the same PNG as before (these bytes are the ones its hash was taken from)
        lost = tuple(view for view in views if not blobs.exists(source_key(hashes[view])))
        restored: dict[str, Digest] = {}
        for view in lost:
            name = source_set.views[view].name
            try:
                image = decode_image(data[view], name).image
            except ImageError as exc:
                return failed(str(exc).removeprefix(f"{name}: "), view, content_hash)
            png = encode_png(image)
            blobs.put(source_key(hashes[view]), png, "image/png")
            restored[source_key(hashes[view])] = Digest.of(png)
        record_digests(engine, restored)
        label_source(engine, existing, **labels, height_m=height_m)
        return IngestResult(
            source_set.where, "duplicate", existing, "same content already catalogued", content_hash, source_set.name, views, lost
        )
    decoded: dict[str, DecodedImage] = {}
    for view, path in source_set.views.items():
        try:
            decoded[view] = decode_image(data[view], path.name)
        except ImageError as exc:
            return failed(str(exc).removeprefix(f"{path.name}: "), view, content_hash)
        if problem := too_small(decoded[view].image.size):  # convert would refuse it: say so now, not later
            return failed(problem, view, content_hash)
    problem = aspect_problem({view: d.image.size for view, d in decoded.items()})
    if problem:
        return failed(problem, content_hash=content_hash)
    stored = [
        NewView(view, hashes[view], path.name, decoded[view].image.width, decoded[view].image.height, decoded[view].image.mode,
                len(data[view]), source_key(hashes[view]), decoded[view].source_format)
        for view, path in source_set.views.items()
    ]  # fmt: skip
    try:
        written: dict[str, Digest] = {}  # what each stored picture holds, for `catalog check`
        for view in stored:
            png = encode_png(decoded[view.view].image)
            blobs.put(view.blob_key, png, "image/png")
            written[view.blob_key] = Digest.of(png)
        new = NewSource.of_views(content_hash, source_set.name, stored, origin=origin, height_m=height_m, **labels)
        (record,) = record_sources(engine, [new])
        record_digests(engine, written)
    except BaseException:
        _remove_unrecorded(engine, blobs, content_hash, stored)
        raise
    return IngestResult(
        source_set.where, "added" if record.created else "duplicate", record.id, describe(decoded), content_hash, source_set.name, views
    )


def _remove_unrecorded(engine: Engine, blobs: BlobStore, content_hash: str, stored: list[NewView]) -> None:
    """Leave no blob without its row, unless another object records the same picture. Best effort: when the
    database or the store is what failed, this may fail too, and ``meshmill catalog check --repair`` removes the
    orphans later; the first error is the one reported."""
    with contextlib.suppress(Exception):
        if source_id_by_hash(engine, content_hash) is None:
            for view in stored:
                if not view_in_catalog(engine, view.content_hash):
                    blobs.delete(view.blob_key)


def describe(decoded: dict[str, DecodedImage]) -> str:
    """What was stored, for the ingest report: the picture's size and mode, and each view's name in a set."""
    parts = []
    for view, d in decoded.items():
        part = f"{d.image.width}×{d.image.height} {d.image.mode}"
        if d.source_mode not in ("RGB", "RGBA"):
            part += f" (from {d.source_format} {d.source_mode})"
        parts.append(part if len(decoded) == 1 else f"{view} {part}")
    return ", ".join(parts)


def aspect_problem(sizes: dict[str, tuple[int, int]]) -> str | None:
    """Why a set's pictures cannot be views of one object: width:height ratios more than ``MAX_ASPECT_SPREAD`` apart."""
    ratios = {view: w / h for view, (w, h) in sizes.items()}
    if max(ratios.values()) <= MAX_ASPECT_SPREAD * min(ratios.values()):
        return None
    listed = ", ".join(f"{view} {w}×{h}" for view, (w, h) in sizes.items())
    return f"views of very different aspect ({listed}): a set's views must be pictures of one object from its four sides"


def ingest_sets(
    found: Iterable[SourceSet | SetProblem],
    engine: Engine,
    blobs: BlobStore,
    *,
    collections: Iterable[str] = (),
    tags: Iterable[str] = (),
    origin: str | None = None,
    height_m: float | None = None,
) -> Iterator[IngestResult]:
    """Ingest each object of ``found``; yields one result per object (or problem) as it goes.

    A full disk (the blob folder's or the catalog's) stops the batch: the object it struck and every one not
    reached are yielded as failed, each named, so that the user knows what to ingest again."""
    collections = [normalise_label(c, "collection") for c in collections]
    tags = [normalise_label(t, "tag") for t in tags]
    items = iter(found)
    for item in items:
        if isinstance(item, SetProblem):
            yield IngestResult(item.where, "failed", detail=item.detail, name=item.where.name)
            continue
        try:
            result = ingest_set(item, engine, blobs, collections=collections, tags=tags, origin=origin, height_m=height_m)
        except Exception as exc:
            full = disk_full(exc) or disk_full(exc.__cause__ or exc)
            if full is None:
                raise
            yield IngestResult(item.where, "failed", detail=full, name=item.name)
            for rest in items:
                yield IngestResult(rest.where, "failed", detail=f"not reached: the ingest stopped ({full})", name=rest.where.name)
            return
        yield result


def ingest_paths(
    paths: Iterable[Path],
    engine: Engine,
    blobs: BlobStore,
    *,
    collections: Iterable[str] = (),
    tags: Iterable[str] = (),
    origin: str | None = None,
    height_m: float | None = None,
) -> Iterator[IngestResult]:
    """Ingest every object under ``paths`` (found by ``source_sets.discover_sets``), as ``ingest_sets`` does."""
    return ingest_sets(discover_sets(paths), engine, blobs, collections=collections, tags=tags, origin=origin, height_m=height_m)
