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


def define(name: str, preset: str | None = None, **shape: object) -> str:
    """Store the variant ``name`` (validated like any GenerationParams) and add its Dagster partition; returns its summary."""
    from assets.partitions import variants  # Dagster: only when a variant is stored
    from orchestration.instance import add_partitions, dagster_instance

    params = resolve_params(preset, **shape)
    fields = {k: getattr(params, k) for k in catalog.VARIANT_FIELDS if k != "backend"}
    # the knobs given that have no column of their own (backend-only ones, texture_format, uv_mode) live in ``extra``
    extra = {k: getattr(params, k) for k, v in shape.items() if v is not None and k not in catalog.VARIANT_FIELDS}
    try:
        catalog.define_variant(open_engine(), name, backend=params.backend, extra=extra, **fields)
    except LabelError as exc:
        fail(str(exc))
    add_partitions(dagster_instance(), variants.name, [name.lower()])
    return f"variant {name.lower()}: {params.backend}, {params.target_faces} faces, texture {params.texture_size}"


@app.command("add")
def variant_add(
    name: str = typer.Argument(..., help="Variant name, e.g. mobile, hero-hunyuan."),
    preset: knobs.Preset = None,
    backend: knobs.Backend = None,
    faces: knobs.Faces = None,
    texture_size: knobs.TextureSize = None,
    texture_format: knobs.TextureFormat = None,
    uv_mode: knobs.UvMode = None,
    normal_map: knobs.NormalMap = None,
    keep_lighting: knobs.KeepLighting = False,
    texture_source: knobs.TextureSource = None,
    lods: knobs.Lods = None,
    remesh: knobs.Remesh = None,
    height: knobs.Height = None,
    pivot: knobs.Pivot = None,
    formats: knobs.Formats = None,
    steps: knobs.Steps = None,
    guidance: knobs.Guidance = None,
    octree_resolution: knobs.OctreeResolution = None,
    stage2_steps: knobs.Stage2Steps = None,
    stage2_guidance: knobs.Stage2Guidance = None,
    stage3_steps: knobs.Stage3Steps = None,
    stage3_guidance: knobs.Stage3Guidance = None,
    pipeline_type: knobs.PipelineType = None,
    seed: knobs.Seed = None,
) -> None:
    """Define (or redefine) a variant; its partitions appear for every image at the next convert."""
    shape = knobs.shape_knobs(
        faces, backend=backend, texture_size=texture_size, texture_format=texture_format, uv_mode=uv_mode, normal_map=normal_map,
        keep_lighting=keep_lighting or None, texture_source=texture_source, lods=lods, remesh=remesh,
        height=height, pivot=pivot, formats=formats, steps=steps, guidance=guidance,
        octree_resolution=octree_resolution, stage2_steps=stage2_steps, stage2_guidance=stage2_guidance,
        stage3_steps=stage3_steps, stage3_guidance=stage3_guidance, pipeline_type=pipeline_type, seed=seed,
    )  # fmt: skip
    say(define(name, preset, **shape))


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
