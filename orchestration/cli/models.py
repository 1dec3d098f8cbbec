"""``meshmill models`` (what can run here, and why not), ``meshmill models check`` and ``meshmill model-server``."""

from __future__ import annotations

import json
import time

import typer

from inference.licences import COMMERCIAL_ENV, TERRITORY_ENV, StudioUse
from inference.runtime.weights import MODELS_DIR_ENV, ModelUnavailable, models_dir
from orchestration.cli.common import fail, print_json, say

app = typer.Typer(help="Shape backends: what is installed, where weights are looked for, a test run.")


def _param_range(declared: dict) -> str:
    """A parameter's default and range (or choices), as `meshmill models` lists them."""
    if "choices" in declared:
        return f"{declared['default']} ({' | '.join(declared['choices'])})"
    return f"{declared['default']:g} ({declared['low']:g}–{declared['high']:g})"


def _licence(terms: dict) -> str:
    commercial = {True: "commercial use allowed", False: "non-commercial", None: "commercial use: depends"}[terms["commercial"]]
    parts = [terms["licence"], commercial]
    if terms["excluded_territories"]:
        parts.append("excludes " + ", ".join(terms["excluded_territories"]))
    if terms["gated"]:
        parts.append("gated weights")
    return "; ".join(parts) + (f" ({terms['conditions']})" if terms["conditions"] else "")


def _studio_use() -> str:
    """The studio's licence setting as the listing states it; a setting that names no known territory ends the command."""
    try:
        use = StudioUse.from_environment()
    except ValueError as exc:
        fail(str(exc))
    return f"territory {use.territory or 'unset'}, commercial {'yes' if use.commercial else 'unset'}"


def _ready(ready: bool) -> str:
    return "[green]ready[/green]" if ready else "[red]not ready[/red]"


@app.callback(invoke_without_command=True)
def models_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON: one object per backend.")) -> None:
    """Every backend: its package, its weights (and where they were looked for), its device and parameters."""
    if ctx.invoked_subcommand is not None:
        return
    setting = _studio_use()  # a bad setting is told before anything is listed
    import torch

    from inference.diagnostics import backend_report, image_model_report  # loads the pipeline, and torch

    rows, image_rows = backend_report(), image_model_report()
    if as_json:
        print_json(rows + image_rows)
        return
    for r in rows:
        say(f"[bold]{r['name']}[/bold]  {_ready(r['ready'])}  {r['description']}")
        params = "; ".join(f"{k} {_param_range(v)}" for k, v in r["params"].items())
        for label, value in (
            ("package", r["package"]),
            ("weights", r["weights"]),
            ("device", r["device"]),
            ("views", ", ".join(r["views"])),
            ("texture", "its own too (--texture-source backend)" if r["own_texture"] else "baked from the views"),
            ("params", params),
            ("licence", _licence(r["licence"])),
        ):
            say(f"    {label:8} {value}")
    say("[bold]upscalers and background removers[/bold]")
    for r in image_rows:
        package = "" if r["package"] == "installed" else f"  ({r['package']})"
        say(f"    {r['name']} ({r['kind']})  {_ready(r['ready'])}  {r['weights']}{package}")
        say(f"        licence: {_licence(r['licence'])}")
    say(
        f"licences as published, not legal advice; {TERRITORY_ENV} and {COMMERCIAL_ENV}=1 make Meshmill refuse a model "
        f"whose licence excludes that use (now: {setting})"
    )
    say(f"models folder: {models_dir()} (set {MODELS_DIR_ENV})")
    cuda = torch.cuda.get_device_name() if torch.cuda.is_available() else "none: learned backends run on the CPU, slowly"
    say(f"torch {torch.__version__}; CUDA device: {cuda}")


@app.command("check")
def models_check(name: str = typer.Argument(..., help="Backend to load and run once.")) -> None:
    """Load a backend and run one small generation on a drawn test object."""
    from inference.diagnostics import check_generator
    from inference.generators import get_generator

    start = time.perf_counter()
    try:
        generator = get_generator(name)
    except (ModelUnavailable, ValueError) as exc:
        fail(str(exc), 1)
    loaded = time.perf_counter() - start
    try:
        result = check_generator(generator)
    except (ValueError, RuntimeError) as exc:
        fail(f"{name}: the test generation failed: {exc}", 1)
    say(
        f"{name} ok: {result['faces']} faces, {result['bytes']:,} bytes of GLB in {result['seconds']:.1f} s "
        f"(model load {loaded:.1f} s) — {generator.version}"
    )


def model_server(
    backend: str = typer.Option(..., help="In-process backend to serve, e.g. hunyuan3d-2."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for every one)."),
    port: int = typer.Option(8081, help="Port to listen on."),
    device: str | None = typer.Option(None, help="cuda, cpu, cuda:1 … (default: CUDA when present)."),
    default: list[str] = typer.Option(
        [], "--default", help="A default for a knob of the served model that requests leave out, e.g. octree_resolution=128 (repeatable)."
    ),
) -> None:
    """Serve a backend over HTTP with Hunyuan3D-2's api_server protocol, for `--backend remote` elsewhere."""
    import uvicorn

    from orchestration.model_server import create_app

    defaults = {}
    for given in default:
        name, sep, value = given.partition("=")
        if not sep:
            fail(f"--default {given!r}: give knob=value, e.g. octree_resolution=128")
        try:
            defaults[name.strip()] = json.loads(value)  # a number; a mode (pipeline_type) is a plain word
        except ValueError:
            defaults[name.strip()] = value.strip()
    try:
        server = create_app(backend, device, defaults)
    except (ModelUnavailable, ValueError) as exc:
        fail(str(exc), 1)
    uvicorn.run(server, host=host, port=port, log_level="info")
