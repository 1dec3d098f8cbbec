"""The ``meshmill`` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

import catalog
from catalog import CatalogError, LabelError
from catalog.blobs import BlobError
from orchestration.ingest import ingest_paths

app = typer.Typer(help="Meshmill: batch image-to-3D assets for game studios.", no_args_is_help=True)
catalog_app = typer.Typer(help="Query and label the catalog.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _engine():  # noqa: ANN202
    try:
        return catalog.get_engine()
    except ValueError as exc:
        fail(str(exc))


def _blobs() -> catalog.BlobStore:
    try:
        return catalog.blob_store_from_env()
    except (BlobError, ValueError) as exc:
        fail(str(exc))
        raise  # unreachable


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="Image files or folders (searched recursively)."),
    collection: list[str] = typer.Option([], "--collection", "-c", help="Collection to put the images in."),
    tag: list[str] = typer.Option([], "--tag", "-t", help="Tag for every image (repeatable)."),
    origin: Optional[str] = typer.Option(None, help="Style model or tool that made the images."),
) -> None:
    """Store images and record them in the catalog, skipping exact duplicates."""
    try:
        collections = [catalog.normalise_label(c, "collection") for c in collection]
        tags = [catalog.normalise_label(t, "tag") for t in tag]
    except LabelError as exc:
        fail(str(exc))
    engine, blobs = _engine(), _blobs()
    counts = {"added": 0, "duplicate": 0, "failed": 0}
    for result in ingest_paths(paths, engine, blobs, collections=collections, tags=tags, origin=origin):
        counts[result.outcome] += 1
        if result.outcome == "added":
            console.print(f"[green]added[/green]     #{result.source_id} {result.path} ({result.detail})", highlight=False)
        elif result.outcome == "duplicate":
            console.print(f"[yellow]duplicate[/yellow] #{result.source_id} {result.path}", highlight=False)
        else:
            err_console.print(f"[red]failed[/red]    {result.path}: {result.detail}", highlight=False)
    console.print(f"catalog: {engine.url.render_as_string(hide_password=True)}  blobs: {blobs.describe()}",
                  highlight=False, soft_wrap=True)  # fmt: skip
    console.print(f"{counts['added']} added, {counts['duplicate']} duplicate, {counts['failed']} failed", highlight=False)
    if counts["failed"]:
        raise typer.Exit(1)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


def _summarise_outputs(outputs: list[dict[str, Any]]) -> str:
    return ", ".join(f"{o['variant']}:{o['status']}" for o in outputs) or "-"


@catalog_app.command("find")
def catalog_find(
    tag: list[str] = typer.Option([], "--tag", "-t", help="Must carry every one of these tags."),
    any_tag: list[str] = typer.Option([], "--any-tag", help="Must carry at least one of these tags."),
    collection: Optional[str] = typer.Option(None, "--collection", "-c"),
    variant: Optional[str] = typer.Option(None, help="Only images with an output of this variant."),
    status: Optional[catalog.OutputStatus] = typer.Option(None, help="Only outputs in this state."),
    limit: int = typer.Option(50, min=1, max=1000, help="Page size."),
    before: Optional[int] = typer.Option(None, help="Next page: the last id of the previous one."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: one object per source image."),
) -> None:
    """Find source images (newest first) by tags, collection, variant and output status."""
    try:
        records = catalog.find(
            _engine(),
            tags=tag,
            any_tags=any_tag,
            collection=collection,
            variant=variant,
            status=status.value if status else None,
            limit=limit,
            before_id=before,
        )
    except (LabelError, ValueError) as exc:
        fail(str(exc))
    if as_json:
        _print_json(records)
        return
    table = Table("id", "file", "size", "tags", "collections", "outputs", title=f"{len(records)} source images")
    for r in records:
        table.add_row(
            str(r["id"]), r["filename"], f"{r['width']}×{r['height']}", ", ".join(r["tags"]),
            ", ".join(r["collections"]), _summarise_outputs(r["outputs"]),
        )  # fmt: skip
    console.print(table)
    if len(records) == limit:
        console.print(f"more: add --before {records[-1]['id']}", highlight=False)


@catalog_app.command("show")
def catalog_show(
    source_id: int = typer.Argument(..., metavar="ID", help="Source image id."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Everything the catalog knows about one source image and its outputs."""
    try:
        record = catalog.show(_engine(), source_id)
    except CatalogError as exc:
        fail(str(exc), 1)
    if as_json:
        _print_json(record)
        return
    console.print(f"[bold]#{record['id']}[/bold] {record['filename']}", highlight=False)
    for field in ("content_hash", "origin", "width", "height", "mode", "source_format", "byte_size", "blob_key", "created_at"):
        console.print(f"  {field:14} {record[field]}", highlight=False)
    console.print(f"  {'tags':14} {', '.join(record['tags']) or '-'}", highlight=False)
    console.print(f"  {'collections':14} {', '.join(record['collections']) or '-'}", highlight=False)
    table = Table("output", "variant", "status", "faces", "bytes", "glb", "tags", "error", title="outputs")
    for o in record["outputs"]:
        table.add_row(
            str(o["id"]), o["variant"], o["status"], str(o["face_count"] or "-"), str(o["byte_size"] or "-"),
            o["blob_keys"]["glb"] or "-", ", ".join(o["tags"]), (o["error"] or "")[:80],
        )  # fmt: skip
    console.print(table)


def _edit(kind: str, source_id: int, add: list[str], remove: list[str], variant: Optional[str]) -> None:
    try:
        now = catalog.edit_labels(_engine(), kind, source_id, add=add, remove=remove, variant=variant)  # type: ignore[arg-type]
    except LabelError as exc:
        fail(str(exc))
    except CatalogError as exc:
        fail(str(exc), 1)
    target = f"#{source_id}" + (f" ({variant})" if variant else "")
    console.print(f"{target} {kind}s: {', '.join(now) or '-'}", highlight=False)


@catalog_app.command("tag")
def catalog_tag(
    source_id: int = typer.Argument(..., metavar="ID", help="Source image id."),
    add: list[str] = typer.Option([], "--add", "-a"),
    remove: list[str] = typer.Option([], "--remove", "-r"),
    variant: Optional[str] = typer.Option(None, help="Tag the image's output for this variant instead."),
) -> None:
    """Add or remove tags on a source image, or on one of its outputs."""
    _edit("tag", source_id, add, remove, variant)


@catalog_app.command("collect")
def catalog_collect(
    source_id: int = typer.Argument(..., metavar="ID", help="Source image id."),
    add: list[str] = typer.Option([], "--add", "-a"),
    remove: list[str] = typer.Option([], "--remove", "-r"),
    variant: Optional[str] = typer.Option(None, help="Change the collections of this variant's output instead."),
) -> None:
    """Add a source image (or one of its outputs) to collections, or take it out."""
    _edit("collection", source_id, add, remove, variant)


@catalog_app.command("collections")
def catalog_collections(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every collection, with how many images and outputs it holds."""
    rows = catalog.list_collections(_engine())
    if as_json:
        _print_json(rows)
        return
    table = Table("collection", "images", "outputs", "created")
    for row in rows:
        table.add_row(row["name"], str(row["images"]), str(row["outputs"]), row["created_at"][:19])
    console.print(table)


def main() -> None:  # pragma: no cover
    app()
