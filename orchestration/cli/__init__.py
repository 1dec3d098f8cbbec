"""The ``meshmill`` command: one module per command group, assembled here."""

from __future__ import annotations

import typer

from orchestration.cli import catalog_commands, models, variants
from orchestration.cli.convert import convert, ui, worker
from orchestration.cli.generate import evaluate, generate
from orchestration.cli.ingest import ingest
from orchestration.cli.models import model_server
from orchestration.cli.serve import serve

app = typer.Typer(help="Meshmill: batch image-to-3D assets for game studios.", no_args_is_help=True)
app.command()(ingest)
app.add_typer(catalog_commands.app, name="catalog")
app.command()(generate)
app.command("eval")(evaluate)
app.add_typer(variants.app, name="variant")
app.command()(convert)
app.command()(ui)
app.command()(worker)
app.add_typer(models.app, name="models")
app.command("model-server")(model_server)
app.command()(serve)
