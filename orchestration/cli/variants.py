"""``meshmill variant``: named, stored parameter sets for the 3D stages; one output per image × variant."""

from __future__ import annotations

import typer
from rich.table import Table

import catalog
from catalog import LabelError
from orchestration.cli import knobs
from orchestration.cli.common import console, fail, open_engine, print_json, resolve_params, say

app = typer.Typer(help="Named, stored parameter sets: one output per image × variant.", no_args_is_help=True)

#: the variant `convert` makes when none is defined or asked for
DEFAULT_VARIANT = "desktop"


def define(name: str, generation: dict[str, object]) -> str:
    """Store the variant ``name`` from its generation options (validated like any GenerationParams) and add its Dagster
    partition; returns its summary."""
    from assets.partitions import variants  # Dagster: only when a variant is stored
    from orchestration.instance import add_partitions, dagster_instance

    params = resolve_params(generation)
    fields = {k: getattr(params, k) for k in catalog.VARIANT_FIELDS if k != "backend"}
    # the knobs given that have no column of their own (backend-only ones, texture_format, uv_mode) live in ``extra``
    extra = {k: getattr(params, k) for k in generation if k not in catalog.VARIANT_FIELDS and k != "preset"}
    try:
        catalog.define_variant(open_engine(), name, backend=params.backend, extra=extra, **fields)
    except LabelError as exc:
        fail(str(exc))
    add_partitions(dagster_instance(), variants.name, [name.lower()])
    return f"variant {name.lower()}: {params.backend}, {params.target_faces} faces, texture {params.texture_size}"


@app.command("add")
@knobs.generation_options("preset", knobs.SHAPE, "formats")
def variant_add(name: str = typer.Argument(..., help="Variant name, e.g. mobile, hero-hunyuan."), *, generation: dict) -> None:
    """Define (or redefine) a variant; its partitions appear for every image at the next convert."""
    say(define(name, generation))


@app.command("list")
def variant_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every variant and its parameters."""
    rows = catalog.list_variants(open_engine())
    if as_json:
        print_json(rows)
        return
    table = Table("variant", "backend", "preset", "faces", "texture", "steps", "guidance", "seed")
    for r in rows:
        table.add_row(
            r["name"], r["backend"], r["preset"] or "-", *(str(r[k]) for k in ("target_faces", "texture_size", "steps", "guidance", "seed"))
        )
    console.print(table)
