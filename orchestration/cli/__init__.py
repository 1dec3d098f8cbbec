"""The ``meshmill`` command: one module per command group, assembled here."""

from __future__ import annotations

import sys

import typer

from orchestration.cli import catalog_commands, models, variants
from orchestration.cli.common import err_console, unreachable
from orchestration.cli.convert import convert, ui, worker
from orchestration.cli.generate import blender_addon, evaluate, generate
from orchestration.cli.ingest import ingest
from orchestration.cli.models import model_server
from orchestration.cli.serve import serve

app = typer.Typer(help="Meshmill: batch image-to-3D assets for game studios.", no_args_is_help=True)
app.command()(ingest)
app.add_typer(catalog_commands.app, name="catalog")
app.command()(generate)
app.command("eval")(evaluate)
app.command("blender-addon")(blender_addon)
app.add_typer(variants.app, name="variant")
app.command()(convert)
app.command()(ui)
app.command()(worker)
app.add_typer(models.app, name="models")
app.command("model-server")(model_server)
app.command()(serve)


def main() -> None:
    """The ``meshmill`` command. A fault of what it depends on (the database, the blob store, a full disk) ends
    it with one line naming what failed, not a traceback; what was stored before stays whole."""
    try:
        app()
    except Exception as exc:
        said = unreachable(exc)
        if said is None:
            raise
        err_console.print(f"[red]error:[/red] {said}", highlight=False)
        sys.exit(1)
