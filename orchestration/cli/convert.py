"""``meshmill convert``, the main job (ingest, then every image × variant through the Dagster assets), and
``meshmill ui``, the Dagster webserver and daemon over the same instance."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

import catalog
from catalog.keys import image_partition_key
from inference.params import DEFAULT_PRESET
from orchestration.cli import knobs
from orchestration.cli.common import console, err_console, fail, label_options, open_blobs, open_engine, resolve_params, say
from orchestration.cli.variants import DEFAULT_VARIANT, define
from orchestration.ingest import ingest_paths


def convert(
    paths: list[Path] = typer.Argument(..., help="Image files or folders."),
    collection: list[str] = typer.Option([], "--collection", "-c"),
    tag: list[str] = typer.Option([], "--tag", "-t"),
    variant: list[str] = typer.Option([], "--variant", "-v", help="Variants to make (default: every defined one, or 'desktop')."),
    origin: str | None = typer.Option(None),
    upscale: knobs.Upscale = None,
    upscaler: knobs.Upscaler = None,
    background: knobs.Background = None,
    keep_background: knobs.KeepBackground = False,
) -> None:
    """The main job: ingest images and turn each into textured GLBs through Dagster (runs show in the UI)."""
    from orchestration.convert import dagster_instance, keys_for, materialise  # Dagster and torch: seconds to import

    collections, tags = label_options(collection, tag)
    image_params = resolve_params(None, **knobs.image_knobs(upscale, upscaler, background, keep_background))
    engine, blobs = open_engine(), open_blobs()
    defined = {v["name"] for v in catalog.list_variants(engine)}
    wanted = [v.lower() for v in variant] or sorted(defined) or [DEFAULT_VARIANT]
    if wanted == [DEFAULT_VARIANT] and DEFAULT_VARIANT not in defined:
        define(DEFAULT_VARIANT, DEFAULT_PRESET)
        defined.add(DEFAULT_VARIANT)
    missing = [v for v in wanted if v not in defined]
    if missing:
        fail(f"unknown variant(s) {', '.join(missing)}: define them with `meshmill variant add`")
    hashes, bad, names = [], [], {}
    for result in ingest_paths(paths, engine, blobs, collections=collections, tags=tags, origin=origin):
        if result.outcome == "failed":
            bad.append((str(result.path), result.detail))
            err_console.print(f"[red]failed[/red]    {result.path}: {result.detail}", highlight=False)
        else:
            hashes.append(result.content_hash)
            names[image_partition_key(result.content_hash)] = result.path.name
    keys = keys_for(hashes)
    instance = dagster_instance()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("converting", total=len(keys) * (1 + len(wanted)))
        report = materialise(instance, keys, wanted, image_params=image_params, on_progress=lambda o: progress.advance(task))
    table = Table("file", "partition", "stage", "result", "run", title=f"{len(keys)} images × {len(wanted)} variants")
    for o in report.outcomes:
        result = "[green]ok[/green]" if o.success else f"[red]{o.error}[/red]"
        table.add_row(names.get(o.image, "-"), o.image, o.variant or "images", result, o.run_id[:8])
    console.print(table)
    made = sum(o.success for o in report.outcomes if o.variant)
    say(
        f"{made} of {len(keys) * len(wanted)} GLBs made; {len(bad)} files refused at ingest; "
        f"Dagster instance: {instance.root_directory} (open it with `meshmill ui`)"
    )
    if report.failures or bad:
        for o in report.failures:
            err_console.print(f"[red]failed[/red] {names.get(o.image, o.image)} {o.variant or 'images'}: {o.error}", highlight=False)
        raise typer.Exit(1)


def ui(port: int = typer.Option(3000), host: str = typer.Option("127.0.0.1")) -> None:
    """Start the Dagster webserver and daemon for this project on 127.0.0.1."""
    from orchestration.convert import REPO_ROOT, dagster_instance

    dagster_instance()  # makes DAGSTER_HOME and its dagster.yaml
    beside = Path(sys.executable).with_name("dagster")
    dagster = str(beside) if beside.exists() else shutil.which("dagster") or "dagster"
    command = [dagster, "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-h", host, "-p", str(port)]
    raise typer.Exit(subprocess.call(command, cwd=REPO_ROOT))
