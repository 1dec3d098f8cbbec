"""mkdocs hook: pages whose tables come from the code, so the site cannot drift from it.

``<!-- generated: parameters -->`` becomes the table of every generation parameter (``GenerationParams``: its
help, range or choices and default, and the option that sets it), ``<!-- generated: presets -->`` the presets,
``<!-- generated: cli -->`` every command of ``meshmill`` with its options (Typer's own Markdown docs).
"""

from __future__ import annotations

from typing import Any

from inference.params import PRESETS, GenerationParams, knob_help
from orchestration.cli import knobs
from tools.docs.cli import reference_markdown


def _flags() -> dict[str, str]:
    """Each parameter's command-line option, from the table the commands are built from (``knobs.OPTIONS``)."""
    flags = {}
    for field, _, declared, _ in knobs.OPTIONS:
        flags[field] = " / ".join(f"`{spelling}`" for spelling in declared.split("/"))
        if knobs.ON_ONLY.get(field) is False:
            flags[field] += " (turns it off)"
    return flags


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def parameters_table() -> str:
    flags = _flags()
    rows = ["| parameter | option | what it does, range or choices, default |", "|---|---|---|"]
    for name in GenerationParams.model_fields:
        rows.append(f"| `{name}` | {flags.get(name, 'config only')} | {_cell(knob_help(name))} |")
    return "\n".join(rows)


def presets_table() -> str:
    keys = sorted({k for values in PRESETS.values() for k in values})
    rows = ["| preset | " + " | ".join(f"`{k}`" for k in keys) + " |", "|---|" + "---|" * len(keys)]
    for preset, values in PRESETS.items():
        rows.append(f"| `{preset}` | " + " | ".join(str(values.get(k, "—")) for k in keys) + " |")
    return "\n".join(rows)


GENERATED = {"parameters": parameters_table, "presets": presets_table, "cli": reference_markdown}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    for name, make in GENERATED.items():
        marker = f"<!-- generated: {name} -->"
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
