"""``meshmill ingest``: store images and record them in the catalog."""

from __future__ import annotations

from pathlib import Path

import typer

from orchestration.cli.common import console, err_console, label_options, open_blobs, open_engine, say
from orchestration.ingest import ingest_paths


def ingest(
    paths: list[Path] = typer.Argument(..., help="Image files or folders (searched recursively)."),
    collection: list[str] = typer.Option([], "--collection", "-c", help="Collection to put the images in."),
    tag: list[str] = typer.Option([], "--tag", "-t", help="Tag for every image (repeatable)."),
    origin: str | None = typer.Option(None, help="Style model or tool that made the images."),
) -> None:
    """Store images and record them in the catalog, skipping exact duplicates."""
    collections, tags = label_options(collection, tag)
    engine, blobs = open_engine(), open_blobs()
    counts = {"added": 0, "duplicate": 0, "failed": 0}
    for result in ingest_paths(paths, engine, blobs, collections=collections, tags=tags, origin=origin):
        counts[result.outcome] += 1
        if result.outcome == "added":
            say(f"[green]added[/green]     #{result.source_id} {result.path} ({result.detail})")
        elif result.outcome == "duplicate":
            say(f"[yellow]duplicate[/yellow] #{result.source_id} {result.path}")
        else:
            err_console.print(f"[red]failed[/red]    {result.path}: {result.detail}", highlight=False)
    console.print(f"catalog: {engine.url.render_as_string(hide_password=True)}  blobs: {blobs.describe()}", highlight=False)
    say(f"{counts['added']} added, {counts['duplicate']} duplicate, {counts['failed']} failed")
    if counts["failed"]:
        raise typer.Exit(1)
