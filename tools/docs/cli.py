"""The ``meshmill`` command as the site documents it (docs/reference/cli.md): Typer's own Markdown docs of the app."""

from __future__ import annotations

import typer
from typer.cli import get_docs_for_click

from orchestration.cli import app


def _command() -> typer.core.TyperGroup:
    return typer.main.get_command(app)


def command_paths(group: object | None = None, prefix: str = "meshmill") -> list[str]:
    """Every command of the app, as typed: ``meshmill catalog find``, ``meshmill generate``, …"""
    group = _command() if group is None else group
    paths = []
    for name, sub in sorted(getattr(group, "commands", {}).items()):
        path = f"{prefix} {name}"
        paths.append(path)
        paths += command_paths(sub, path)
    return paths


def reference_markdown() -> str:
    """Every command with its usage, arguments and options, one heading each (``## `meshmill convert` ``, …)."""
    command = _command()
    return get_docs_for_click(obj=command, ctx=typer.Context(command), name="meshmill", indent=1).strip()
