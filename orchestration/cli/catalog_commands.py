"""``meshmill catalog``: find source images by tag, collection, variant, status and review; show one; label them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

import catalog
from catalog import MAX_ID, CatalogError, LabelError
from orchestration.cli.common import console, counted, err_console, fail, open_blobs, open_engine, print_json, say, shown, unreachable
from orchestration.exports import DEFAULT_TEMPLATE

app = typer.Typer(help="Query and label the catalog.", no_args_is_help=True)


#: an output's id, as `catalog find` lists it and the web app's pages take it: one id system for sources and outputs
OutputId = typer.Option(
    None, "--output", "-o", min=0, max=MAX_ID, help="An output's id (as `catalog find` and the web app show it) instead of ID --variant."
)
SourceId = typer.Argument(None, metavar="[ID]", min=0, max=MAX_ID, help="Source image id (or give --output).")

#: an output's latest review, as the web app's reviewers left it
ReviewOption = typer.Option(None, help="Only outputs whose latest review is this (approved in the web app, say).")


def _target(source_id: int | None, output_id: int | None, variant: str | None) -> tuple[int, str | None]:
    """The source image and variant a command means: ``ID [--variant V]``, or ``--output N`` (its source and variant)."""
    if (source_id is None) == (output_id is None):
        fail("give a source image ID, or an output's id with --output (not both)")
    if output_id is None:
        return source_id, variant  # type: ignore[return-value]
    if variant is not None:
        fail("--output names one output already: leave --variant out")
    try:
        files = catalog.output_files(open_engine(), output_id)
    except CatalogError as exc:
        fail(str(exc), 1)
    return files["source_image_id"], files["variant"]


def _summarise_outputs(outputs: list[dict[str, Any]]) -> str:
    """Each output as ``#12 mobile:succeeded``: its id is what the web app's pages and ``catalog tag --output`` take."""
    return ", ".join(f"#{o['id']} {o['variant']}:{o['status']}" for o in outputs) or "-"


@app.command("find")
def catalog_find(
    tag: list[str] = typer.Option([], "--tag", "-t", help="Must carry every one of these tags."),
    any_tag: list[str] = typer.Option([], "--any-tag", help="Must carry at least one of these tags."),
    collection: str | None = typer.Option(None, "--collection", "-c", help="Only images in this collection (or with an output in it)."),
    variant: str | None = typer.Option(None, help="Only images with an output of this variant."),
    status: catalog.OutputStatus | None = typer.Option(None, help="Only outputs in this state."),
    review: catalog.ReviewFilter | None = ReviewOption,
    limit: int = typer.Option(50, min=1, max=1000, help="Page size."),
    before: int | None = typer.Option(None, min=0, max=MAX_ID, help="Next page: the last id of the previous one."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: one object per source image."),
) -> None:
    """Find source images (newest first) by tags, collection, variant, output status and review."""
    try:
        records = catalog.find(
            open_engine(reading=True),
            tags=tag,
            any_tags=any_tag,
            collection=collection,
            variant=variant,
            status=status.value if status else None,
            review=review.value if review else None,
            limit=limit,
            before_id=before,
            summary=not as_json,  # the table shows no more
        )
    except (LabelError, ValueError) as exc:
        fail(str(exc))
    if as_json:
        print_json(records)
        return
    table = Table("id", "file", "views", "size", "tags", "collections", "outputs", title=counted(len(records), "source object"))
    for r in records:
        table.add_row(
            str(r["id"]),
            shown(r["filename"]),
            ", ".join(v["view"] for v in r["views"]),
            f"{r['width']}×{r['height']}",
            ", ".join(r["tags"]),
            ", ".join(r["collections"]),
            _summarise_outputs(r["outputs"]),
        )
    console.print(table)
    if len(records) == limit:
        say(f"more: add --before {records[-1]['id']}")


@app.command("export")
def catalog_export(
    destination: Path = typer.Argument(..., help="A folder, or a file ending .zip: the files go into one archive."),
    collection: str | None = typer.Option(None, "--collection", "-c", help="The collection to export."),
    tag: list[str] = typer.Option([], "--tag", "-t", help="Only objects with this tag (repeatable: every one of them)."),
    formats: str = typer.Option("glb", "--format", "-f", help="Comma-separated formats: glb, obj, fbx, usdz, usdc."),
    variant: str | None = typer.Option(None, help="Only this variant's outputs."),
    review: catalog.ReviewFilter | None = ReviewOption,
    template: str = typer.Option(
        DEFAULT_TEMPLATE,
        help="Each file's path: {collection}, {name} (the source's file name without its suffix), {variant}, {format}, {ext}.",
    ),
) -> None:
    """Write every made output of a collection (or of the objects with some tags) in each format: the stored file where
    the variant wrote that format, else made now from the output's GLB."""
    from inference.mesh.formats import FORMATS, FormatError, check_formats, format_names
    from orchestration.exports import exported_files, write_export

    try:
        names = format_names(formats)
    except FormatError as exc:
        fail(f"--format {formats!r}: {exc}")
    if not names:
        fail(f"--format {formats!r}: names no format: choose from {', '.join(FORMATS)}")
    if not collection and not tag:
        fail("say what to export: --collection NAME, --tag NAME, or both")
    try:
        check_formats(names)
        chosen = {"collection": collection, "tags": tag, "variant": variant, "review": review.value if review else None}
        found = exported_files(open_engine(), open_blobs(), names, template, **chosen)
        written = write_export(found, destination)
    except (ValueError, KeyError) as exc:
        fail(str(exc))
    except (RuntimeError, FileNotFoundError) as exc:
        fail(str(exc), 1)
    made = sum(item.made_now for item in written)
    say(f"wrote {counted(len(written), 'file')} to {destination}" + (f" ({made} made now from the GLB)" if made else ""))


@app.command("show")
def catalog_show(
    source_id: int | None = SourceId,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    output: int | None = OutputId,
) -> None:
    """Everything the catalog knows about one source image and its outputs (or the source of output --output N)."""
    source_id, _ = _target(source_id, output, None)
    try:
        record = catalog.show(open_engine(reading=True), source_id)
    except CatalogError as exc:
        fail(str(exc), 1)
    if as_json:
        print_json(record)
        return
    say(f"[bold]#{record['id']}[/bold] {record['filename']}")
    for field in ("content_hash", "origin", "width", "height", "mode", "source_format", "byte_size", "blob_key", "created_at"):
        say(f"  {field:14} {record[field]}")
    height = record["height_m"]
    say(f"  {'real height':14} {f'{height:g} m' if height else '- (its variant says)'}")
    for v in record["views"]:
        say(f"  {v['view'] + ' view':14} {v['filename']} {v['width']}×{v['height']} {v['mode']}, {v['byte_size']} bytes, {v['blob_key']}")
    say(f"  {'tags':14} {', '.join(record['tags']) or '-'}")
    say(f"  {'collections':14} {', '.join(record['collections']) or '-'}")
    table = Table("output", "variant", "status", "views", "faces", "bytes", "glb", "tags", "error", title="outputs")
    for o in record["outputs"]:
        table.add_row(
            str(o["id"]),
            o["variant"],
            o["status"],
            ", ".join(o["views"] or []) or "-",
            str(o["face_count"] or "-"),
            str(o["byte_size"] or "-"),
            o["blob_keys"]["glb"] or "-",
            ", ".join(o["tags"]),
            (o["error"] or "")[:80],
        )
    console.print(table)


def _edit(kind: str, target: tuple[int, str | None], add: list[str], remove: list[str]) -> None:
    source_id, variant = target
    try:
        now = catalog.edit_labels(open_engine(), kind, source_id, add=add, remove=remove, variant=variant)  # type: ignore[arg-type]
    except LabelError as exc:
        fail(str(exc))
    except CatalogError as exc:
        fail(str(exc), 1)
    target = f"#{source_id}" + (f" ({variant})" if variant else "")
    say(f"{target} {kind}s: {', '.join(now) or '-'}")


@app.command("tag")
def catalog_tag(
    source_id: int | None = SourceId,
    add: list[str] = typer.Option([], "--add", "-a", help="Tag to add (repeatable)."),
    remove: list[str] = typer.Option([], "--remove", "-r", help="Tag to remove (repeatable)."),
    variant: str | None = typer.Option(None, help="Tag the image's output for this variant instead."),
    output: int | None = OutputId,
) -> None:
    """Add or remove tags on a source image, or on one of its outputs (ID --variant V, or --output N)."""
    _edit("tag", _target(source_id, output, variant), add, remove)


@app.command("collect")
def catalog_collect(
    source_id: int | None = SourceId,
    add: list[str] = typer.Option([], "--add", "-a", help="Collection to add it to (repeatable)."),
    remove: list[str] = typer.Option([], "--remove", "-r", help="Collection to take it out of (repeatable)."),
    variant: str | None = typer.Option(None, help="Change the collections of this variant's output instead."),
    output: int | None = OutputId,
) -> None:
    """Add a source image (or one of its outputs: ID --variant V, or --output N) to collections, or take it out."""
    _edit("collection", _target(source_id, output, variant), add, remove)


@app.command("collections")
def catalog_collections(as_json: bool = typer.Option(False, "--json", help="Print JSON: one object per collection.")) -> None:
    """Every collection, with how many images and outputs it holds."""
    rows = catalog.list_collections(open_engine(reading=True))
    if as_json:
        print_json(rows)
        return
    table = Table("collection", "images", "outputs", "created")
    for row in rows:
        table.add_row(row["name"], str(row["images"]), str(row["outputs"]), row["created_at"][:19])
    console.print(table)


@contextlib.contextmanager
def hashing_progress(shown: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A bar of bytes hashed with its rate and time left, on standard error (None where not shown)."""
    if not shown:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    columns = ("hashing blobs", BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("hash", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@app.command("check")
def catalog_check(
    repair: bool = typer.Option(False, "--repair", help="Mend what can be mended: see each finding's repair."),
    grace: float = typer.Option(
        3600.0, min=0, help="Seconds a blob must be old before it counts as an orphan (younger ones may be writes in flight)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: the findings and the count of objects not yet converted."),
    deep: bool = typer.Option(
        False,
        "--deep",
        help="Read every catalogued blob and compare its sha256 with the one recorded when it was written (sizes: always).",
    ),
) -> None:
    """Check that the catalog, the blob store and the Dagster instance agree; with --repair, mend them.

    Finds blobs no object owns, rows whose blobs are missing or damaged (a size, or with --deep a content, other than
    written), attempts left running by runs that are gone, runs whose process died (holding pool slots) and partitions
    no object has. Exits 1 while problems remain."""
    from orchestration.consistency import check  # Dagster: seconds to import
    from orchestration.instance import dagster_instance

    engine = open_engine(reading=not repair)
    try:
        instance = dagster_instance()
    except Exception as exc:  # e.g. its disk full: the catalog and the store can still be checked
        said = unreachable(exc)
        if said is None or repair:
            raise
        err_console.print(f"[yellow]note:[/yellow] Dagster's runs and partitions are not checked: {said}", highlight=False)
        instance = None
    with hashing_progress(deep and not as_json) as progress:
        report = check(instance, engine, open_blobs(), repair=repair, grace=grace, deep=deep, progress=progress)
    if as_json:
        print_json({"findings": [f.as_dict() for f in report.findings], "not_converted": report.not_converted})
    else:
        table = Table("problem", "what", "detail", "repair", title=f"{len(report.findings)} finding(s)")
        for f in report.findings:
            table.add_row(f.kind, f.subject, f.detail, ("[green]done:[/green] " if f.repaired else "") + (f.repair or "-"))
        if report.findings:
            console.print(table)
        left = len(report.problems)
        verdict = f"{left} problem(s) left" if left else "mended" if any(f.repaired for f in report.findings) else "clean"
        only = " (the catalog and the blob store only)" if instance is None else ""
        say(f"{verdict}{only}; {report.not_converted} catalogued object(s) not yet converted")
        if any(f.repaired and f.kind in ("open_attempt", "missing_blob", "damaged_blob") for f in report.findings):
            say("run the same `meshmill convert` again: it makes what failed and skips what was made")
        elif left and not repair:
            say("`meshmill catalog check --repair` mends them")
    if report.problems:
        raise typer.Exit(1)
