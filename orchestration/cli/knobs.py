"""The generation knobs as command-line options, declared once.

Each option's help, choices and range come from ``GenerationParams`` and the backend / upscaler / remover tables
(``inference.params.knob_help``); which options a command takes is one call of :func:`generation_options`, which
adds them to the command's signature and hands the command the fields that were given, as one mapping.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any

import typer

from inference.params import IMAGE_STAGE_FIELDS, GenerationParams, ParameterError, knob_help


def _option(field: str, kind: Any, declared: str, parameter: str | None = None) -> tuple[str, str, str, Any]:
    option = typer.Option(declared, help=knob_help(field), show_default=False)
    return field, parameter or field, declared, Annotated[kind | None, option]


def _flag(field: str, declared: str, parameter: str | None = None, help: str | None = None) -> tuple[str, str, str, Any]:
    """An on-only flag (``--keep-lighting``): absent means 'not given', so a preset or a variant decides."""
    return field, parameter or field, declared, Annotated[bool, typer.Option(declared, help=help or knob_help(field), show_default=False)]


#: every generation option, in --help's order: (GenerationParams field, the command's parameter name, the option as
#: declared, e.g. ``--normal-map/--no-normal-map``, its Typer annotation)
OPTIONS: tuple[tuple[str, str, str, Any], ...] = (
    _option("preset", str, "--preset"),
    _option("backend", str, "--backend"),
    _option("target_faces", int, "--faces", "faces"),
    _option("texture_size", int, "--texture-size"),
    _option("texture_format", str, "--texture-format"),
    _option("uv_mode", str, "--uv-mode"),
    _option("normal_map", bool, "--normal-map/--no-normal-map"),
    _flag("keep_lighting", "--keep-lighting"),
    _option("texture_source", str, "--texture-source"),
    _option("lods", int, "--lods"),
    _option("remesh", str, "--remesh"),
    _option("height", float, "--height"),
    _option("pivot", str, "--pivot"),
    _option("formats", str, "--formats"),
    _option("steps", int, "--steps"),
    _option("guidance", float, "--guidance"),
    _option("octree_resolution", int, "--octree-resolution"),
    _option("stage2_steps", int, "--stage2-steps"),
    _option("stage2_guidance", float, "--stage2-guidance"),
    _option("stage3_steps", int, "--stage3-steps"),
    _option("stage3_guidance", float, "--stage3-guidance"),
    _option("pipeline_type", str, "--pipeline-type"),
    _option("seed", int, "--seed"),
    _option("upscale", int, "--upscale"),
    _option("upscaler", str, "--upscaler"),
    _option("background", str, "--background"),
    _flag(
        "remove_background",
        "--keep-background",
        "keep_background",
        "use the image's own alpha, no background removal (remove_background off)",
    ),
)
#: each field's option as a user types it (the first spelling of a pair like ``--normal-map/--no-normal-map``)
FLAGS = {field: declared.split("/")[0] for field, _, declared, _ in OPTIONS}
#: the options of the 3D stages (what a variant stores, with ``formats``; `generate` takes its formats from -o) and of
#: the image stages (what `convert` takes per batch)
SHAPE = tuple(field for field, *_ in OPTIONS if field not in {*IMAGE_STAGE_FIELDS, "preset", "formats"})
IMAGE = tuple(field for field, *_ in OPTIONS if field in IMAGE_STAGE_FIELDS)
#: the value a given on-only flag sets
ON_ONLY = {"keep_lighting": True, "remove_background": False}


def generation_options(*fields: Iterable[str] | str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a Typer command the generation options of ``fields`` (names, or the groups ``SHAPE`` / ``IMAGE``).

    The command declares a keyword ``generation: dict``: it receives the GenerationParams fields that were given on the
    command line (an option left out is not in it, so a preset or a stored variant decides it)."""
    wanted = {f for group in fields for f in ([group] if isinstance(group, str) else group)}
    unknown = wanted - set(FLAGS)
    if unknown:
        raise ValueError(f"not generation options: {', '.join(sorted(unknown))}")
    chosen = [(field, parameter, kind) for field, parameter, _, kind in OPTIONS if field in wanted]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "generation"]
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=False if field in ON_ONLY else None, annotation=kind)
            for field, name, kind in chosen
        ]

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            given = {}
            for field, name, _ in chosen:
                value = kwargs.pop(name)
                if field in ON_ONLY:
                    value = ON_ONLY[field] if value else None
                if value is not None:
                    given[field] = value
            return command(*args, generation=given, **kwargs)

        run.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        return run

    return decorate


def resolve(generation: dict[str, Any], preset: str | None = None) -> GenerationParams:
    """GenerationParams from a command's options: the preset (``--preset``, else ``preset``), then what was given.
    A bad value raises ParameterError naming the option as typed (``--faces``), not the field."""
    values = {k: v for k, v in generation.items() if k != "preset"}
    try:
        return GenerationParams.resolve(generation.get("preset", preset), **values)
    except ParameterError as exc:
        raise ParameterError(_as_typed(str(exc))) from None


def _as_typed(message: str) -> str:
    """``target_faces=10000000: …`` → ``--faces 10000000: …``, ``texture_format 'gif' is unknown`` → ``--texture-format
    'gif' is unknown``: each message (``; ``-separated) begins with the name a user typed."""
    known = "|".join(sorted(FLAGS, key=len, reverse=True))
    return re.sub(rf"(^|; )({known})(=| ')", lambda m: f"{m.group(1)}{FLAGS[m.group(2)]} {m.group(3).strip('= ')}", message)
