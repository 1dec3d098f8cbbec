"""The generation knobs as command-line options, declared once: help, choices and ranges come from
``GenerationParams`` and the backend / upscaler / remover tables (``inference.params.knob_help``)."""

from __future__ import annotations

from typing import Annotated

import typer

from inference.params import knob_help


def _option(field: str, flag: str) -> typer.models.OptionInfo:
    return typer.Option(flag, help=knob_help(field), show_default=False)


Backend = Annotated[str | None, _option("backend", "--backend")]
Preset = Annotated[str | None, _option("preset", "--preset")]
Faces = Annotated[int | None, _option("target_faces", "--faces")]
TextureSize = Annotated[int | None, _option("texture_size", "--texture-size")]
TextureFormat = Annotated[str | None, _option("texture_format", "--texture-format")]
UvMode = Annotated[str | None, _option("uv_mode", "--uv-mode")]
NormalMap = Annotated[bool | None, _option("normal_map", "--normal-map/--no-normal-map")]
KeepLighting = Annotated[bool, typer.Option("--keep-lighting", help=knob_help("keep_lighting"), show_default=False)]
TextureSource = Annotated[str | None, _option("texture_source", "--texture-source")]
Lods = Annotated[int | None, _option("lods", "--lods")]
Height = Annotated[float | None, _option("height", "--height")]
Pivot = Annotated[str | None, _option("pivot", "--pivot")]
Formats = Annotated[str | None, _option("formats", "--formats")]
Remesh = Annotated[str | None, _option("remesh", "--remesh")]
Steps = Annotated[int | None, _option("steps", "--steps")]
Guidance = Annotated[float | None, _option("guidance", "--guidance")]
OctreeResolution = Annotated[int | None, _option("octree_resolution", "--octree-resolution")]
Stage2Steps = Annotated[int | None, _option("stage2_steps", "--stage2-steps")]
Stage2Guidance = Annotated[float | None, _option("stage2_guidance", "--stage2-guidance")]
Stage3Steps = Annotated[int | None, _option("stage3_steps", "--stage3-steps")]
Stage3Guidance = Annotated[float | None, _option("stage3_guidance", "--stage3-guidance")]
PipelineType = Annotated[str | None, _option("pipeline_type", "--pipeline-type")]
Seed = Annotated[int | None, _option("seed", "--seed")]
Upscale = Annotated[int | None, _option("upscale", "--upscale")]
Upscaler = Annotated[str | None, _option("upscaler", "--upscaler")]
Background = Annotated[str | None, _option("background", "--background")]
KeepBackground = Annotated[
    bool, typer.Option("--keep-background", help="use the image's own alpha, no background removal (remove_background off)")
]


def image_knobs(upscale: int | None, upscaler: str | None, background: str | None, keep_background: bool) -> dict:
    """The image stages' GenerationParams fields from their options (None: not given)."""
    return {"upscale": upscale, "upscaler": upscaler, "background": background, "remove_background": False if keep_background else None}


def shape_knobs(faces: int | None, **options: object) -> dict:
    """The 3D stages' GenerationParams fields from their options (None: not given); ``faces`` is ``target_faces``,
    the other options are named as their fields."""
    return {"target_faces": faces, **options}
