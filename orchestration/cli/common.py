"""What every command shares: the consoles, one way to fail, the catalog from the environment, file writes.

The commands import Dagster, torch and the inference pipeline inside their bodies: those cost seconds
to import, and ``meshmill catalog find`` should answer in well under one.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

import catalog
from catalog import LabelError
from catalog.blobs import BlobError, disk_full, first_line
from catalog.config import database_url
from catalog.labels import normalise_origin
from inference.params import MAX_HEIGHT_M, GenerationParams, ParameterError
from orchestration.cli import knobs

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line naming the problem and end the command (2: bad usage or input, 1: it could not be done)."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def unreachable(exc: BaseException) -> str | None:
    """One line for a fault of what the command depends on (the catalog database, the blob store, the disk), or
    None for any other error: those are bugs, and keep their traceback."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, BlobError):
        return str(exc)
    if isinstance(exc, DBAPIError):
        detail = first_line(exc.orig if exc.orig is not None else exc)
        in_dagster = _raised_in_dagster_storage(exc)
        which = _dagster_storage() if in_dagster else f"the catalog database ({catalog.describe_database()})"
        if "full" in detail.lower() or "no space" in detail.lower():
            return f"{which} could not be written: {detail} (free some space and run the command again)"
        left = _space_left(os.environ.get("DAGSTER_HOME") if in_dagster else _catalog_file())
        if _full_disk_said(detail, left):
            # SQLite calls a write that found no space "disk I/O error" when it was its journal that could not grow
            free = f"{left / 1e6:.1f} MB free now; SQLite said: {detail}"
            return f"{which} could not be written: its disk is full or nearly ({free}): free some space and run the command again"
        return f"{which} failed: {detail}"
    if isinstance(exc, OSError):
        return disk_full(exc)
    return None


def _raised_in_dagster_storage(exc: BaseException) -> bool:
    """Whether a database error came from Dagster's own storage (runs, events, partitions), not the catalog."""
    storage = f"{os.sep}dagster{os.sep}_core{os.sep}storage{os.sep}"
    return any(storage in frame.f_code.co_filename for frame, _ in traceback.walk_tb(exc.__traceback__))


#: bytes free under which a database's "disk I/O error" is taken to be a full disk
NEARLY_FULL = 64 * 2**20


def _space_left(path: str | None) -> int | None:
    """Bytes free on the file system holding ``path`` (or the nearest folder above it that exists); None if unknown."""
    if not path:
        return None
    place = Path(path)
    while not place.exists() and place != place.parent:
        place = place.parent
    try:
        return shutil.disk_usage(place).free
    except OSError:
        return None


def _full_disk_said(detail: str, left: int | None) -> bool:
    """Whether a database's error means its disk is full: SQLite says so, or calls a write that found no space
    "disk I/O error" when it was its journal that could not grow."""
    detail = detail.lower()
    return "full" in detail or "no space" in detail or ("disk i/o error" in detail and left is not None and left < NEARLY_FULL)


def _catalog_file() -> str | None:
    """The catalog's SQLite file, if the catalog is one."""
    try:
        url = make_url(database_url())
    except Exception:  # a malformed URL is reported where it is used
        return None
    return url.database if url.get_backend_name() == "sqlite" else None


def _dagster_storage() -> str:
    return f"Dagster's storage ({os.environ['DAGSTER_HOME']})" if os.environ.get("DAGSTER_HOME") else "Dagster's storage"


def say(message: str) -> None:
    console.print(message, highlight=False)


def open_engine(*, reading: bool = False) -> Engine:
    """The catalog; for a command that only ``reading`` it, read-only when its disk is too full to open it otherwise."""
    from sqlalchemy.exc import DBAPIError

    try:
        return catalog.get_engine()
    except ValueError as exc:
        fail(str(exc))
    except DBAPIError as exc:
        if not reading or not _full_disk_said(first_line(exc.orig or exc), _space_left(_catalog_file())):
            raise
        err_console.print("[yellow]note:[/yellow] the catalog's disk is full: the catalog is read as it is, read-only", highlight=False)
        return catalog.read_only_engine()


def open_blobs() -> catalog.BlobStore:
    try:
        return catalog.blob_store_from_env()
    except BlobError as exc:  # the store is away or refuses: nothing wrong with the command itself
        fail(str(exc), 1)
    except ValueError as exc:
        fail(str(exc))


#: the labels a command puts on what it ingests (`ingest`, `convert`): one declaration for both
Collections = Annotated[
    list[str] | None, typer.Option("--collection", "-c", help="Collection to put the objects in (repeatable; made if new).")
]
Tags = Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag for every object (repeatable): lower case, a-z 0-9 . _ : / -.")]
Origin = Annotated[
    str | None, typer.Option("--origin", help="Style model or tool that made the images (one line, at most 200 characters).")
]


def _height_in_range(value: float | None) -> float | None:
    if value is not None and not 0 < value <= MAX_HEIGHT_M:
        raise typer.BadParameter(f"{value:g} is not a height: give metres above 0 and at most {MAX_HEIGHT_M:g}")
    return value


ObjectHeight = Annotated[
    float | None,
    typer.Option(
        "--object-height",
        callback=_height_in_range,
        metavar="METRES",
        help="Each object's real height in metres: its outputs are made that tall whatever their variant's --height "
        "(a sidecar's height_m says it per object and wins; said again, it replaces the one the catalog had).",
    ),
]


def label_options(
    collections: list[str] | None, tags: list[str] | None, origin: str | None = None
) -> tuple[list[str], list[str], str | None]:
    """Validated --collection, --tag and --origin values; a bad one ends the command before anything is stored."""
    try:
        return (
            [catalog.normalise_label(c, "collection") for c in collections or ()],
            [catalog.normalise_label(t, "tag") for t in tags or ()],
            normalise_origin(origin),
        )
    except LabelError as exc:
        fail(str(exc))


def resolve_params(generation: dict[str, Any], preset: str | None = None) -> GenerationParams:
    """GenerationParams from a command's generation options (``knobs.generation_options``); a bad one ends the
    command naming the option as typed."""
    try:
        return knobs.resolve(generation, preset)
    except ParameterError as exc:
        fail(str(exc))


def print_json(value: Any) -> None:
    """``value`` as JSON; catalog rows (``catalog.rows``) as the objects of their fields."""
    sys.stdout.write(json.dumps(value, indent=2, default=_as_object) + "\n")


def _as_object(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}


def shown(text: object) -> str:
    """A name as one line of a terminal shows it: control characters written as escapes (a file name with a newline
    stays on its line), and rich's markup brackets escaped (``[red]x.png`` is a name, not a colour)."""
    return escape(str(text).translate(_CONTROL))


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``1 source object``, ``2 source objects``: a count with its noun as a person writes it."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
