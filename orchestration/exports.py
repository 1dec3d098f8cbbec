"""Outputs as files in any export format, for ``meshmill catalog export`` and the web app's download of a search: the
stored blob where the variant wrote that format, else made now from the output's GLB (its level 0: levels of detail
and quads are in the stored formats only)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import catalog
from catalog import BlobStore

#: the default file name of an exported output: its collection, the source's name and the variant, and the suffix
DEFAULT_TEMPLATE = "{collection}/{name}_{variant}.{ext}"
PAGE = 500


@dataclass(frozen=True)
class ExportedFile:
    path: str  # relative, from the template
    data: bytes
    made_now: bool  # False: the stored blob


def output_as(blobs: BlobStore, output: dict[str, Any], name: str, stem: str) -> tuple[bytes, str, bool]:
    """``(bytes, suffix without the dot, made now)``: the output in format ``name`` (a zip for OBJ and USDC)."""
    from inference.mesh.export import glb_mesh  # deferred: trimesh, only when exporting
    from inference.mesh.formats import FORMATS, Finished, stored, stored_suffix

    def ext(suffix: str) -> str:  # a format of several files travels as NAME.zip
        return f"{name}.zip" if suffix == ".zip" else suffix.lstrip(".")

    key = output["blob_keys"].get(name)
    if key:
        return blobs.get(key), ext(stored_suffix(name, key)), False
    glb = blobs.get(output["blob_keys"]["glb"])
    data, suffix, _ = stored(FORMATS[name], Finished(glb_mesh(glb), glb), stem)
    return data, ext(suffix), True


def exported_files(
    engine: Any,
    blobs: BlobStore,
    formats: list[str],
    template: str = DEFAULT_TEMPLATE,
    *,
    collection: str | None = None,
    tags: list[str] | None = None,
    variant: str | None = None,
    review: str | None = None,
) -> Iterator[ExportedFile]:
    """Every made output of the objects in ``collection`` with every one of ``tags`` (of ``variant``, and with the
    latest ``review`` decision — ``approved`` — where given) in
    each of ``formats``, named by ``template``: ``{collection}`` (the one asked for, else the object's first, else
    ``uncollected``), ``{name}`` (the source's file name without its suffix), ``{variant}``, ``{format}``, ``{ext}``.
    Two objects of one name in one folder keep both: the second and later get ``-<source id>`` before the suffix."""
    before, taken = None, set()
    while True:
        page = catalog.find(
            engine, collection=collection, tags=tags or [], variant=variant, status="succeeded", review=review, limit=PAGE, before_id=before
        )
        for source in page:
            name = Path(source["filename"]).stem
            folder = collection or (source["collections"] or ["uncollected"])[0]
            for output in source["outputs"]:
                if output["status"] != "succeeded" or (variant and output["variant"] != variant):
                    continue
                stem = f"{name}_{output['variant']}"
                for export_format in formats:
                    data, ext, made_now = output_as(blobs, output, export_format, stem)
                    fields = {"collection": folder, "name": name, "variant": output["variant"], "format": export_format, "ext": ext}
                    try:
                        filled = template.format(**fields)
                    except (KeyError, IndexError, ValueError) as exc:
                        raise ValueError(f"the file name template {template!r} cannot be filled ({exc}): use {', '.join(fields)}") from None
                    path = relative_path(filled)
                    if path in taken:
                        path = set_apart(path, ext, source["id"])
                    taken.add(path)
                    yield ExportedFile(path, data, made_now)
        if len(page) < PAGE:
            return
        before = page[-1]["id"]


def set_apart(path: str, ext: str, source_id: int) -> str:
    """``path`` made the file of source ``source_id``: ``toys/duck_mobile.glb`` → ``toys/duck_mobile-12.glb``."""
    if path.endswith(f".{ext}"):
        return f"{path[: -len(ext) - 1]}-{source_id}.{ext}"
    return f"{path}-{source_id}"


def relative_path(path: str) -> str:
    """A template's result, refused where it would leave the destination (absolute, or through ``..``)."""
    parts = Path(path).parts
    if not parts or Path(path).is_absolute() or ".." in parts:
        raise ValueError(f"the file name template gives {path!r}, which is not a path inside the destination")
    return "/".join(parts)


def write_export(files: Iterator[ExportedFile], destination: Path) -> list[ExportedFile]:
    """Into a folder, or one ``.zip`` where ``destination`` ends so; each file written whole (a temporary name, then
    renamed), the zip too. Returns what was written."""
    written = []
    if destination.suffix.lower() == ".zip":
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(f".{destination.name}.tmp")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive:  # GLB, PNG, FBX are compressed already
            for item in files:
                archive.writestr(item.path, item.data)
                written.append(item)
        partial.replace(destination)
        return written
    for item in files:
        target = destination / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.tmp")
        partial.write_bytes(item.data)
        partial.replace(target)
        written.append(item)
    return written
