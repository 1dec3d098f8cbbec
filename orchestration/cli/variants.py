"""``meshmill variant``: named, stored parameter sets for the 3D stages; one output per image × variant."""

from __future__ import annotations

import hashlib
import json

import typer
from rich.table import Table

import catalog
from assets.variants import variant_params
from catalog import CatalogError, LabelError
from inference.params import IMAGE_STAGE_FIELDS
from orchestration.cli import knobs
from orchestration.cli.common import console, counted, fail, open_blobs, open_engine, print_json, resolve_params, say

app = typer.Typer(help="Named, stored parameter sets: one output per image × variant.", no_args_is_help=True)

#: the variant `convert` makes when none is defined or asked for
DEFAULT_VARIANT = "desktop"


def define(name: str, generation: dict[str, object]) -> str:
    """Store the variant ``name`` from its generation options (validated like any GenerationParams) and add its Dagster
    partition; returns its summary."""
    from assets.partitions import variants  # Dagster: only when a variant is stored
    from orchestration.instance import add_partitions, dagster_instance

    params = resolve_params(generation)
    try:  # stored whole: reading it never applies the preset again
        catalog.define_variant(open_engine(), name, params.model_dump(mode="json"))
    except LabelError as exc:
        fail(str(exc))
    add_partitions(dagster_instance(), variants.name, [name.lower()])
    return f"variant {name.lower()}: {params.backend}, {params.target_faces} faces, texture {params.texture_size}"


def variant_for(generation: dict[str, object]) -> tuple[str, bool]:
    """The variant a command's generation options describe (``convert --preset mobile --faces 3000``): an existing one
    with the same 3D settings, else one made now, named after the preset (``mobile``; ``mobile-<hash>`` where that
    name is taken by other settings). Returns its name and whether it was made now."""
    shape = {k: v for k, v in generation.items() if k not in IMAGE_STAGE_FIELDS}
    wanted = resolve_params(shape).model_dump(mode="json")
    engine = open_engine()
    rows = catalog.list_variants(engine)
    for row in rows:
        stored = variant_params(engine, row).model_dump(mode="json")
        if all(stored[k] == v for k, v in wanted.items() if k not in IMAGE_STAGE_FIELDS):
            return row["name"], False
    base = str(shape.get("preset") or "custom")
    digest = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:6]
    name = base if base not in {row["name"] for row in rows} else f"{base}-{digest}"
    define(name, shape)
    return name, True


@app.command("add")
@knobs.generation_options("preset", knobs.SHAPE, "formats")
def variant_add(name: str = typer.Argument(..., help="Variant name, e.g. mobile, hero-hunyuan."), *, generation: dict) -> None:
    """Define (or redefine) a variant; its partitions appear for every image at the next convert."""
    say(define(name, generation))


@app.command("remove")
def variant_remove(
    name: str = typer.Argument(..., help="The variant to remove."),
    with_outputs: bool = typer.Option(False, "--with-outputs", help="Also remove its outputs, their catalog rows and files."),
) -> None:
    """Remove a variant (refused while it has outputs, unless --with-outputs) and its Dagster partitions."""
    from assets.partitions import variants  # Dagster: only when a variant is removed
    from orchestration.instance import dagster_instance

    try:
        removed = catalog.remove_variant(open_engine(), open_blobs(), name, with_outputs=with_outputs)
    except CatalogError as exc:
        fail(str(exc))
    instance = dagster_instance()
    if instance.has_dynamic_partition(variants.name, name.lower()):
        instance.delete_dynamic_partition(variants.name, name.lower())
    say(f"removed variant {name.lower()}" + (f" and its {counted(removed, 'output')}" if removed else ""))


@app.command("list")
def variant_list(as_json: bool = typer.Option(False, "--json", help="Every variant with all its parameters, as JSON.")) -> None:
    """Every variant and its parameters."""
    engine = open_engine()
    rows = [{**row, "params": variant_params(engine, row).model_dump(mode="json")} for row in catalog.list_variants(engine)]
    if as_json:
        print_json(rows)
        return
    columns = {
        "backend": "backend", "preset": "preset", "target_faces": "faces", "texture_size": "texture",
        "normal_map": "normal map", "lods": "LODs", "remesh": "remesh", "uv_mode": "UVs", "formats": "formats",
        "steps": "steps", "guidance": "guidance", "seed": "seed",
    }  # fmt: skip
    table = Table("variant", *columns.values(), title=f"{len(rows)} variant{'' if len(rows) == 1 else 's'}")
    for row in rows:
        params = row["params"]
        shown = {k: ("yes" if v is True else "no" if v is False else ",".join(v) if isinstance(v, list) else "-" if v is None else str(v))
                 for k, v in ((k, params[k]) for k in columns)}  # fmt: skip
        table.add_row(row["name"], *shown.values())
    console.print(table)
