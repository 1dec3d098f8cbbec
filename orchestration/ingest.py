"""Ingest: decode each image file, store it as a blob, and record it in the catalog.

The blob is written first and the row second, so a crash never leaves a row without its blob;
a blob whose row could not be written is removed again. Blobs are content-addressed, so several
processes ingesting the same image write the same bytes to the same key and one row wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine

from catalog import BlobStore, label_source, record_source, source_id_by_hash
from catalog.keys import source_key
from catalog.labels import normalise_label
from inference.images.decode import ImageError, decode_image, encode_png

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".tga"}


@dataclass(frozen=True)
class IngestResult:
    path: Path
    outcome: Literal["added", "duplicate", "failed"]
    source_id: int | None = None
    detail: str = ""
    content_hash: str | None = None  # of the file's bytes; None when it could not be read


def iter_image_files(paths: Iterable[Path]) -> Iterator[Path | tuple[Path, str]]:
    """Files to ingest: each given file, and image files found in given folders (recursively).

    A path that does not exist is yielded as ``(path, reason)`` so the caller can report it.
    """
    for path in paths:
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in found.relative_to(path).parts)
                if found.is_file() and not hidden and found.suffix.lower() in IMAGE_SUFFIXES:
                    yield found
        elif path.is_file():
            yield path
        elif path.exists():
            yield (path, "not a regular file or folder")
        else:
            yield (path, "no such file or folder")


def ingest_file(
    path: Path,
    engine: Engine,
    blobs: BlobStore,
    *,
    collections: Iterable[str] = (),
    tags: Iterable[str] = (),
    origin: str | None = None,
) -> IngestResult:
    """Ingest one file; never raises for a bad file, returns a ``failed`` result naming the problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return IngestResult(path, "failed", detail=f"cannot read: {exc.strerror or exc}")
    content_hash = hashlib.sha256(data).hexdigest()
    labels = {"tags": list(tags), "collections": list(collections)}
    existing = source_id_by_hash(engine, content_hash)
    if existing is None:
        try:
            decoded = decode_image(data, path.name)
        except ImageError as exc:
            return IngestResult(path, "failed", detail=str(exc).removeprefix(f"{path.name}: "), content_hash=content_hash)
        key = source_key(content_hash)
        blobs.put(key, encode_png(decoded.image), "image/png")
        try:
            record = record_source(
                engine,
                content_hash=content_hash,
                filename=path.name,
                origin=origin,
                width=decoded.image.width,
                height=decoded.image.height,
                mode=decoded.image.mode,
                source_format=decoded.source_format,
                byte_size=len(data),
                blob_key=key,
                **labels,
            )
        except BaseException:
            if source_id_by_hash(engine, content_hash) is None:
                blobs.delete(key)  # nobody else recorded it: leave no blob without its row
            raise
        detail = f"{decoded.image.width}×{decoded.image.height} {decoded.image.mode}"
        if decoded.source_mode not in ("RGB", "RGBA"):
            detail += f" (from {decoded.source_format} {decoded.source_mode})"
        return IngestResult(path, "added" if record.created else "duplicate", record.id, detail, content_hash)
    label_source(engine, existing, **labels)
    return IngestResult(path, "duplicate", existing, "same content already catalogued", content_hash)


def ingest_paths(
    paths: Iterable[Path],
    engine: Engine,
    blobs: BlobStore,
    *,
    collections: Iterable[str] = (),
    tags: Iterable[str] = (),
    origin: str | None = None,
) -> Iterator[IngestResult]:
    """Ingest every image under ``paths``; yields one result per file as it goes."""
    collections = [normalise_label(c, "collection") for c in collections]
    tags = [normalise_label(t, "tag") for t in tags]
    for item in iter_image_files(paths):
        if isinstance(item, tuple):
            yield IngestResult(item[0], "failed", detail=item[1])
            continue
        yield ingest_file(item, engine, blobs, collections=collections, tags=tags, origin=origin)
