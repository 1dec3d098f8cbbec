"""The export formats: one table, each row a name, a file suffix, a MIME type and the writer that turns a finished
asset into files. Everything that writes or serves a format (``generate -o``, the catalog, the web app) reads this
table; a new format is a row here and its writer beside it.

A writer takes the finished asset (``Finished``: the textured budget mesh, its levels of detail, the quads of a
retopology, the GLB already encoded) and a file stem, and returns ``{file name: bytes}``, the main file first
(``stem.<suffix>``), then what it needs beside it (an OBJ's MTL and textures, a USD layer's textures).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from inference.mesh.fbx import check_fbx, fbx_bytes
from inference.mesh.usd import REQUIREMENT as USD_REQUIREMENT
from inference.mesh.usd import check_usd, usdc_files, usdz_bytes

if TYPE_CHECKING:  # the table is read where trimesh is not yet imported (parameters, the CLI's start)
    import numpy as np
    import trimesh


@dataclass(frozen=True)
class Finished:
    """What every writer may read: the textured budget mesh (metres, +Y up), its levels of detail, the polygon of
    each face where quads were asked for, and the GLB."""

    mesh: trimesh.Trimesh
    glb: bytes
    lods: Sequence[trimesh.Trimesh] = field(default_factory=tuple)
    polygon: np.ndarray | None = None


@dataclass(frozen=True)
class ExportFormat:
    name: str
    suffix: str  # with the dot
    mime: str
    write: Callable[[Finished, str], dict[str, bytes]]
    description: str
    requires: str | None = None  # what it needs beyond Meshmill's own dependencies, as its refusal says
    check: Callable[[], None] | None = None  # raises, naming what is missing, where the writer cannot run here


def _glb(asset: Finished, stem: str) -> dict[str, bytes]:
    return {f"{stem}.glb": asset.glb}


def _obj(asset: Finished, stem: str) -> dict[str, bytes]:
    from inference.mesh.export import obj_files  # deferred: trimesh takes a second to import

    return obj_files(asset.mesh, stem, asset.lods, asset.polygon)


def _usdz(asset: Finished, stem: str) -> dict[str, bytes]:
    return {f"{stem}.usdz": usdz_bytes(asset.mesh, stem)}


def _fbx(asset: Finished, stem: str) -> dict[str, bytes]:
    from inference.mesh.export import levels_glb

    glb = levels_glb(asset.mesh, asset.lods) if asset.lods else asset.glb  # every level a node: Blender skips MSFT_lod
    return {f"{stem}.fbx": fbx_bytes(glb, stem)}


def _usdc(asset: Finished, stem: str) -> dict[str, bytes]:
    return usdc_files(asset.mesh, stem)


FORMATS: dict[str, ExportFormat] = {
    "glb": ExportFormat("glb", ".glb", "model/gltf-binary", _glb, "glTF binary: textures, normal map, levels of detail (MSFT_lod)"),
    "obj": ExportFormat(
        "obj", ".obj", "model/obj", _obj, "Wavefront OBJ with its MTL and PNG textures beside it (quads kept; a file per level of detail)"
    ),
    "fbx": ExportFormat(
        "fbx",
        ".fbx",
        "application/octet-stream",
        _fbx,
        "binary FBX (Unity, Unreal): base colour, normal and metallic-roughness textures embedded; +Y up, metres",
        "Blender (apt-get install blender), run headless",
        check_fbx,
    ),
    "usdz": ExportFormat(
        "usdz",
        ".usdz",
        "model/vnd.usdz+zip",
        _usdz,
        "USDZ package (Apple AR Quick Look, Unreal): UsdPreviewSurface",
        USD_REQUIREMENT,
        check_usd,
    ),
    "usdc": ExportFormat(
        "usdc",
        ".usdc",
        "model/vnd.usd",
        _usdc,
        "USD crate layer with its PNG textures beside it: UsdPreviewSurface",
        USD_REQUIREMENT,
        check_usd,
    ),
}


def stored(export_format: ExportFormat, asset: Finished, stem: str) -> tuple[bytes, str, str]:
    """``(bytes, suffix, MIME type)`` of the format as one blob: its file, or a zip of its files (OBJ, USDC)."""
    from inference.mesh.export import zipped

    files = export_format.write(asset, stem)
    if len(files) == 1:
        return next(iter(files.values())), export_format.suffix, export_format.mime
    return zipped(files), ".zip", "application/zip"


def stored_suffix(name: str, key: str) -> str:
    """The suffix of format ``name``'s stored blob ``key``: the format's own, or ``.zip`` for a format of several files."""
    return ".zip" if key.endswith(".zip") else FORMATS[name].suffix


class FormatError(ValueError):
    """A format name or a file name's suffix that names no format; the message lists the ones there are."""


def format_names(names: str | Iterable[str]) -> list[str]:
    """Format names, given comma-separated or one by one, in lower case; raises ``FormatError`` on an unknown one."""
    found = [n.strip().lower() for n in (names.split(",") if isinstance(names, str) else map(str, names)) if n.strip()]
    unknown = [n for n in found if n not in FORMATS]
    if unknown:
        raise FormatError(f"format {unknown[0]!r} is unknown: choose from {', '.join(FORMATS)}")
    return found


def check_formats(names: Iterable[str]) -> None:
    """Raises, naming what to install, where the writer of one of ``names`` cannot run here (no Blender, no usd-core)."""
    for name in names:
        if FORMATS[name].check is not None:
            FORMATS[name].check()


def format_for(path: Path | str) -> ExportFormat:
    """The format a file name's suffix asks for."""
    suffix = Path(path).suffix.lower()
    for export_format in FORMATS.values():
        if export_format.suffix == suffix:
            return export_format
    known = ", ".join(f.suffix for f in FORMATS.values())
    raise FormatError(f"{path}: {suffix or 'no suffix'} is not a format Meshmill writes: use one of {known}")
