"""Which files make which source objects: single images, and view sets of up to four views.

An object may have several pictures in the view convention (``inference.views``: front, left, back,
right). Three layouts give them:

    toy/front.png  toy/left.png  …       a folder per object: each image in it is the view its name says
    toy_front.png  toy-left.png  …       name suffixes: images of one folder sharing a name before _<view> or -<view>
    toy.views.json                        a sidecar: {"views": {"front": "a.png", "left": "b.png"}} with paths
                                          relative to it, and optionally what a label sidecar says (below) and "name"

Any other image file is an object of one view, its front. An object may have a label sidecar, ``<name>.json``
beside it (``chest.png`` → ``chest.json``; a folder ``toy/`` or ``toy_front.png`` … → ``toy.json``), in the
view-set sidecar's format without its views:
``{"tags": [...], "collections": [...], "origin": "...", "height_m": 0.8}`` (``"collection": "name"`` is read
as one collection). ``ingest``, ``convert`` and the inbox all read it. A bad set (two fronts, an unknown view name,
no front, an unreadable sidecar) is reported with the set named, and the other objects go on. So is
whatever in a folder looks like a picture but cannot be one: a format Meshmill does not read (HEIC, SVG,
PSD, …), a pipe or device, a dangling link, a link loop, a folder it may not read, and a folder with no
picture at all. Links to files and folders are followed; other files (prompts, notes) are passed over.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.params import MAX_HEIGHT_M
from inference.views import VIEW_NAMES

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".jfif", ".webp", ".avif", ".bmp", ".tif", ".tiff", ".gif", ".tga"}
#: picture formats Meshmill does not read, and what to do instead: a file of one is reported, never passed over
UNREAD_FORMATS = {
    ".heic": "HEIC is not read (its decoders are GPL/LGPL): export PNG or JPEG",
    ".heif": "HEIF is not read (its decoders are GPL/LGPL): export PNG or JPEG",
    ".svg": "an SVG vector drawing: render it to PNG first",
    ".svgz": "an SVG vector drawing: render it to PNG first",
    ".pdf": "a PDF document: export the picture as PNG",
    ".eps": "an EPS drawing: render it to PNG first",
    ".psd": "a Photoshop document: export the flattened picture as PNG",
    ".psb": "a Photoshop document: export the flattened picture as PNG",
    ".kra": "a Krita document: export the picture as PNG",
    ".xcf": "a GIMP document: export the picture as PNG",
    ".exr": "an OpenEXR image: tone-map it to an 8- or 16-bit PNG",
    ".hdr": "a Radiance HDR image: tone-map it to an 8- or 16-bit PNG",
    ".jxl": "JPEG XL is not read: export PNG",
    ".raw": "a camera raw file: develop it to PNG or JPEG",
    ".dng": "a camera raw file: develop it to PNG or JPEG",
}
SIDECAR_SUFFIX = ".views.json"
_SUFFIXED = re.compile(rf"(?P<name>.+)[_-](?P<view>{'|'.join(VIEW_NAMES)})", re.IGNORECASE)
_USE = f"use {', '.join(VIEW_NAMES)}"


@dataclass(frozen=True)
class SourceSet:
    """The files of one source object, and what was said about it."""

    name: str  # for people: the image's file name, the folder's name, the name before the suffix, the sidecar's name
    views: dict[str, Path]  # view name → file, in the view convention's order
    where: Path  # what messages name: the image, the set's folder, or the sidecar
    tags: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    origin: str | None = None
    height_m: float | None = None  # the object's real height in metres

    @property
    def folder(self) -> Path:
        """The folder the object sits in: a folder set's parent, else the folder of its files."""
        return self.where.parent


@dataclass(frozen=True)
class SetProblem:
    """Files that make no object, and why."""

    where: Path
    detail: str


def is_sidecar(path: Path) -> bool:
    return path.name.lower().endswith(SIDECAR_SUFFIX)


def discover_sets(paths: Iterable[Path], *, report_empty: bool = True) -> Iterator[SourceSet | SetProblem]:
    """The objects under ``paths`` (files, and folders searched recursively), folder after folder, and the problems
    found on the way; ``report_empty``: a folder without a picture is a problem (not for an inbox that waits)."""
    by_folder: dict[Path, list[Path]] = {}
    for path in paths:
        if path.is_dir():
            found_any = False
            root = _identity(path)
            for found in _pictures_under(path, {root}, (root,)):
                found_any = True
                if isinstance(found, SetProblem):
                    yield found
                else:
                    by_folder.setdefault(found.parent, []).append(found)
            if not found_any and report_empty:
                yield SetProblem(path, f"no pictures in this folder (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        elif path.is_file():
            by_folder.setdefault(path.parent, []).append(path)
        elif path.is_symlink():
            yield SetProblem(path, _broken_link(path))
        else:
            yield SetProblem(path, "not a regular file or folder" if path.exists() else "no such file or folder")
    for folder, files in by_folder.items():
        yield from _sets_in_folder(folder, sorted(set(files)))


def _broken_link(path: Path) -> str:
    """What is wrong with a link that leads to no file or folder: a loop, or a target that does not exist."""
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a link loop: it leads back to itself"
    return f"a dangling link (to {os.readlink(path)}, which does not exist)"


def _identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


def _pictures_under(folder: Path, searched: set[tuple[int, int]], holding: tuple[tuple[int, int], ...]) -> Iterator[Path | SetProblem]:
    """Picture files and sidecars under ``folder`` (hidden names skipped, links followed, each folder searched once),
    and the problems: a folder that cannot be read, a link loop, a dangling link, a pipe or device, a picture
    format not read. ``holding``: the folders that hold this one, to tell a loop from a second way in."""
    try:  # real entries before links, so that a folder is found under its own name
        entries = sorted(os.scandir(folder), key=lambda e: (e.is_symlink(), e.name))
    except OSError as exc:
        yield SetProblem(folder, f"cannot read this folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            info = path.stat()  # follows links
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                yield SetProblem(path, "a link loop: the link leads back to itself")
            elif entry.is_symlink():
                yield SetProblem(path, f"a dangling link (to {os.readlink(path)}, which does not exist)")
            else:
                yield SetProblem(path, f"cannot read: {exc.strerror or exc}")
            continue
        suffix = path.suffix.lower()
        if stat.S_ISDIR(info.st_mode):
            identity = (info.st_dev, info.st_ino)
            if identity in holding:
                yield SetProblem(path, "a link loop: it leads back to a folder that holds it, which is already searched")
            elif identity not in searched:  # else: a second way into a folder searched already
                searched.add(identity)
                yield from _pictures_under(path, searched, (*holding, identity))
        elif not stat.S_ISREG(info.st_mode):
            yield SetProblem(path, "not a regular file (a pipe, socket or device): not read")
        elif suffix in IMAGE_SUFFIXES or is_sidecar(path):
            yield path
        elif suffix in UNREAD_FORMATS:
            yield SetProblem(path, UNREAD_FORMATS[suffix])


def _sets_in_folder(folder: Path, files: list[Path]) -> Iterator[SourceSet | SetProblem]:
    claimed: set[Path] = set()
    for sidecar in (f for f in files if is_sidecar(f)):
        found = read_sidecar(sidecar)
        if isinstance(found, SourceSet):
            claimed.update(p.resolve() for p in found.views.values())
        yield found
    images = [f for f in files if not is_sidecar(f) and f.resolve() not in claimed]
    if any(f.stem.lower() in VIEW_NAMES for f in images):  # a folder per object: every image in it is a view
        unknown = [f.name for f in images if f.stem.lower() not in VIEW_NAMES]
        if unknown:
            yield SetProblem(folder, f"unknown view name(s) {', '.join(unknown)} in a view-set folder: {_USE}")
        else:
            yield with_label_sidecar(make_set(folder.resolve().name, [(f.stem.lower(), f) for f in images], folder))
        return
    suffixed: dict[str, list[tuple[str, Path]]] = {}
    for f in images:
        match = _SUFFIXED.fullmatch(f.stem)
        if match:
            suffixed.setdefault(match["name"].lower(), []).append((match["view"].lower(), f))
        else:
            yield with_label_sidecar(SourceSet(f.name, {"front": f}, f))
    for members in suffixed.values():
        first = members[0][1]
        name = _SUFFIXED.fullmatch(first.stem)["name"]  # type: ignore[index]
        yield with_label_sidecar(make_set(name, members, folder / name))


def label_sidecar(found: SourceSet) -> Path:
    """Where an object's label sidecar would be: ``chest.png`` → ``chest.json``, a folder or name ``toy`` → ``toy.json``."""
    where = found.where
    return where.with_suffix(".json") if where.is_file() else where.parent / f"{where.name}.json"


def with_label_sidecar(found: SourceSet | SetProblem) -> SourceSet | SetProblem:
    """The set with what its label sidecar says, if it has one, or what is wrong with that sidecar."""
    if isinstance(found, SetProblem):
        return found
    sidecar = label_sidecar(found)
    if not sidecar.is_file():
        return found
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return SetProblem(sidecar, f"cannot read the label sidecar of {found.name}: {exc}")
    said = said_in_sidecar(data, sidecar)
    return said if isinstance(said, SetProblem) else SourceSet(found.name, found.views, found.where, **said)


def said_in_sidecar(data: Any, sidecar: Path) -> dict[str, Any] | SetProblem:
    """What a sidecar says of its object (tags, collections, origin, height_m), checked, or what is wrong with it."""
    if not isinstance(data, dict):
        return SetProblem(sidecar, 'a sidecar is a JSON object: {"tags": [...], "collections": [...], "origin": "...", "height_m": 1.2}')
    said: dict[str, Any] = {}
    for key in ("tags", "collections"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return SetProblem(sidecar, f'"{key}" must be a list of names')
        said[key] = tuple(value)
    if "collection" in data:  # the inbox's first sidecar format named one collection
        if not isinstance(data["collection"], str):
            return SetProblem(sidecar, '"collection" must be a name')
        said["collections"] += (data["collection"],)
    if not isinstance(data.get("origin"), str | None):
        return SetProblem(sidecar, '"origin" must be a string')
    said["origin"] = data.get("origin")
    height = data.get("height_m")
    if height is not None and (isinstance(height, bool) or not isinstance(height, int | float) or not 0 < height <= MAX_HEIGHT_M):
        return SetProblem(sidecar, f'"height_m" must be the object\'s height in metres, a number above 0 and at most {MAX_HEIGHT_M:g}')
    said["height_m"] = None if height is None else float(height)
    return said


def make_set(name: str, members: list[tuple[str, Path]], where: Path, **said: Any) -> SourceSet | SetProblem:
    """A set from (view name, file) pairs, or the problem with it: an unknown view, a view given twice, no front."""
    unknown = sorted({view for view, _ in members} - set(VIEW_NAMES))
    if unknown:
        return SetProblem(where, f"unknown view name(s) {', '.join(unknown)}: {_USE}")
    views: dict[str, Path] = {}
    for view, path in members:
        if view in views:
            return SetProblem(where, f"two {view} views: {views[view].name} and {path.name}")
        views[view] = path
    if "front" not in views:
        return SetProblem(where, f"no front view (it has {', '.join(v for v in VIEW_NAMES if v in views)}): every set needs its front")
    return SourceSet(name, {v: views[v] for v in VIEW_NAMES if v in views}, where, **said)


def read_sidecar(sidecar: Path) -> SourceSet | SetProblem:
    """The set a ``<name>.views.json`` describes (see the module docstring), or what is wrong with it."""
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return SetProblem(sidecar, f"cannot read the view-set sidecar: {exc}")
    if not isinstance(data, dict) or not isinstance(data.get("views"), dict) or not data["views"]:
        return SetProblem(sidecar, 'a view-set sidecar is an object with "views": {"front": "<file>", …}')
    said = said_in_sidecar(data, sidecar)
    if isinstance(said, SetProblem):
        return said
    members = []
    for view, file in data["views"].items():
        if not isinstance(file, str):
            return SetProblem(sidecar, f"the {view} view must be a file name")
        path = sidecar.parent / file
        if not path.is_file():
            return SetProblem(sidecar, f"the {view} view: no such file {file!r} beside the sidecar")
        members.append((str(view).lower(), path))
    name = data.get("name") or sidecar.name[: -len(SIDECAR_SUFFIX)]
    return make_set(str(name), members, sidecar, **said)


def set_from_option(value: str) -> SourceSet | SetProblem:
    """The set ``--views front=a.png,left=b.png[,name=toy]`` gives (name: default the front file's name without
    its suffix), or what is wrong with it."""
    where = Path(f"--views {value}")
    members, name = [], None
    for part in (p.strip() for p in value.split(",")):
        key, sep, file = (x.strip() for x in part.partition("="))
        if not sep or not key or not file:
            return SetProblem(where, "give view=file pairs separated by commas, e.g. front=a.png,left=b.png (and name=toy)")
        if key.lower() == "name":
            name = file
            continue
        path = Path(file)
        if not path.is_file():
            return SetProblem(where, f"the {key} view: {'not a regular file' if path.exists() else 'no such file'} {file!r}")
        members.append((key.lower(), path))
    front = dict(members).get("front")
    return make_set(name or (front.stem if front else where.name), members, where)
