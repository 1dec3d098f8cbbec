"""``meshmill ingest``: store images and view sets, and record each object in the catalog."""

from __future__ import annotations

from pathlib import Path

import typer

from orchestration.cli.common import (
    Collections,
    ObjectHeight,
    Origin,
    Tags,
    console,
    err_console,
    fail,
    label_options,
    open_blobs,
    open_engine,
    say,
    shown,
)
from orchestration.ingest import IngestResult, ingest_sets
from orchestration.source_sets import SetProblem, SourceSet, discover_sets, set_from_option

VIEWS_HELP = (
    "A view set given file by file: front=a.png,left=b.png[,back=…,right=…][,name=toy] (repeatable). Folders may hold "
    "sets too: a folder per object (toy/front.png, toy/left.png), name suffixes (toy_front.png, toy_left.png) or a "
    "toy.views.json sidecar."
)


def objects(paths: list[Path] | None, views: list[str]) -> list[SourceSet | SetProblem]:
    """The objects a command was given: under its paths, and one per --views; ends the command when there are none."""
    if not paths and not views:
        fail("give image files or folders, or a view set with --views front=a.png,left=b.png")
    return [*discover_sets(paths or []), *(set_from_option(v) for v in views)]


def print_result(result: IngestResult) -> None:
    path, detail = shown(result.path), shown(result.detail)
    if result.outcome == "added":
        say(f"[green]added[/green]     #{result.source_id} {path} ({detail})")
    elif result.outcome == "duplicate":
        views = f" ({', '.join(result.views)})" if len(result.views) > 1 else ""
        restored = ""
        if result.restored:  # the catalog knew it, the blob store had lost it
            which = "picture" if len(result.views) == 1 else f"{' and '.join(result.restored)} view"
            restored = f": its {which} had gone from the blob store and is stored again"
        say(f"[yellow]duplicate[/yellow] #{result.source_id} {path}{views}{restored}")
    else:
        err_console.print(f"[red]failed[/red]    {path}: {detail}", highlight=False)


def ingest(
    paths: list[Path] = typer.Argument(None, help="Image files or folders (searched recursively)."),
    views: list[str] = typer.Option([], "--views", help=VIEWS_HELP),
    collection: Collections = None,
    tag: Tags = None,
    origin: Origin = None,
    object_height: ObjectHeight = None,
) -> None:
    """Store images and view sets and record each object in the catalog, skipping exact duplicates."""
    collections, tags, origin = label_options(collection, tag, origin)
    found = objects(paths, views)
    engine, blobs = open_engine(), open_blobs()
    counts = {"added": 0, "duplicate": 0, "failed": 0}
    for result in ingest_sets(found, engine, blobs, collections=collections, tags=tags, origin=origin, height_m=object_height):
        counts[result.outcome] += 1
        print_result(result)
    console.print(f"catalog: {engine.url.render_as_string(hide_password=True)}  blobs: {blobs.describe()}", highlight=False)
    say(f"{counts['added']} added, {counts['duplicate']} duplicate, {counts['failed']} failed")
    if counts["failed"]:
        raise typer.Exit(1)
