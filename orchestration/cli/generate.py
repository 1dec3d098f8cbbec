"""``meshmill generate`` (one image or up to four views to a GLB, no catalog, no Dagster) and ``meshmill eval``."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import typer
from PIL import Image
from rich.table import Table

from inference.images.decode import ImageError, decode_image
from inference.params import DEFAULT_PRESET
from inference.runtime.weights import ModelUnavailable
from orchestration.cli import knobs
from orchestration.cli.common import console, err_console, fail, resolve_params, say, write_atomically


def _check_view_file(path: Path, view: str) -> None:
    """A view must be a regular file: reading a pipe or a device would wait for ever."""
    if path.exists() and not path.is_file():
        fail(f"{view} view {path}: not a regular file (a folder, a pipe or a device)")


def _check_output(path: Path, option: str) -> None:
    """Before any work: ``option``'s file can be written where asked (not a folder; a folder that exists or can be
    made, writable)."""
    if path.is_dir():
        fail(f"{option} {path}: is a folder; give the file's name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        fail(f"{option} {path}: cannot write into {folder}")


def _read_view(path: Path, view: str) -> Image.Image:
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"{view} view {path}: cannot read ({exc.strerror or exc})")
    try:
        return decode_image(data, f"{view} view {path}").image
    except ImageError as exc:
        fail(str(exc))


@knobs.generation_options("preset", knobs.SHAPE, knobs.IMAGE)
def generate(
    front: Path = typer.Argument(..., help="Front view (camera on +Z): the image to convert."),
    outputs: list[Path] = typer.Option(
        ...,
        "--output",
        "-o",
        help="File to write; its suffix picks the format: .glb, .obj (with its MTL and textures beside it), .usdz, .usdc "
        "(with its textures beside it). Repeat for several formats of one asset.",
    ),
    left: Path | None = typer.Option(None, help="Left view: camera on +X, showing the object's own left side."),
    back: Path | None = typer.Option(None, help="Back view: camera on -Z."),
    right: Path | None = typer.Option(None, help="Right view: camera on -X."),
    obj: Path | None = typer.Option(None, "--obj", help="Also write OBJ + MTL + PNG into this folder (as -o FOLDER/NAME.obj)."),
    *,
    generation: dict,
) -> None:
    """Turn one image (or up to four views) into a textured GLB. No catalog, no Dagster."""
    paths = {"front": front, "left": left, "back": back, "right": right}
    for view, path in paths.items():
        if path is not None:
            _check_view_file(path, view)
    if obj is not None:
        outputs = [*outputs, obj / f"{outputs[0].stem}.obj"]
    for output in outputs:
        _check_output(output, "-o")
    # torch and trimesh take seconds to import: only this command needs them
    from inference.generators import get_generator
    from inference.licences import check_licences
    from inference.mesh.formats import Finished, FormatError, check_formats, format_for
    from inference.mesh.remesh import quad_count
    from inference.pipeline import generate_asset

    try:
        formats = [format_for(output) for output in outputs]
        check_formats(f.name for f in formats)
    except (FormatError, RuntimeError) as exc:
        fail(str(exc))
    output = outputs[0]

    params = resolve_params(generation, DEFAULT_PRESET)
    try:
        check_licences(params)  # before the model is loaded: its weights may not even be here
        generator = get_generator(params.backend)
    except (ModelUnavailable, ValueError) as exc:
        fail(str(exc), 1)
    images = {view: _read_view(path, view) for view, path in paths.items() if path is not None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            asset = generate_asset(images, params, generator, name=output.stem)
    except (ValueError, RuntimeError, ModelUnavailable) as exc:  # ViewError, MeshError, a remover's or upscaler's weights …
        fail(str(exc), 1)
    except MemoryError:
        fail(f"out of memory making {output.name}: try a smaller picture, --texture-size or --faces", 1)
    for note in asset.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {note}", highlight=False)
    finished = Finished(asset.mesh, asset.glb, asset.lods, asset.polygon)
    for path, export_format in zip(outputs, formats, strict=True):
        try:
            files = export_format.write(finished, path.stem)
        except RuntimeError as exc:
            fail(f"{path}: {exc}", 1)
        for index, (name, data) in enumerate(files.items()):
            target = path if index == 0 else path.parent / name  # the main file as asked; what it needs beside it
            write_atomically(target, data)
            say(f"wrote {target}")
    title = f"{asset.model_name} {asset.model_version}: {asset.faces} faces, {asset.vertices} vertices, {len(asset.glb):,} bytes"
    if asset.polygon is not None:
        title += f"; {quad_count(asset.polygon):,} quads"
    if asset.lods:
        title += f"; LODs {', '.join(f'{len(level.faces):,}' for level in asset.lods)} faces"
    table = Table("stage", "seconds", title=title)
    for stage, seconds in asset.timings.items():
        table.add_row(stage, f"{seconds:.2f}")
    console.print(table)


@knobs.generation_options("preset", "uv_mode", "keep_lighting", "texture_format")
def evaluate(
    mesh_dir: Path = typer.Argument(..., help="Folder of ground-truth meshes (OBJ, +Y up, front +Z), searched recursively."),
    make_reference_set: bool = typer.Option(False, help="First write the default set (meshes from pybullet_data) into MESH_DIR."),
    size: int = typer.Option(512, help="Render size of each view in pixels."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write every score as JSON here."),
    lit: bool = typer.Option(
        False, "--lit", help="Show the PSNR of the results re-rendered lit like the references (as an engine lights a base colour)."
    ),
    renderer: str = typer.Option(
        "tinyrenderer", help="Who renders the references and results: tinyrenderer (pybullet, quick) or blender (Cycles; needs blender)."
    ),
    single_only: bool = typer.Option(False, "--single-only", help="Score the one-view result only (no four views, no baselines)."),
    sheets: Path | None = typer.Option(None, help="Write a contact sheet per object here: the reference's four sides over each result's."),
    *,
    generation: dict,
) -> None:
    """Quality harness: reconstruct real meshes from their renders; F-score, and PSNR and silhouette IoU from all four sides."""
    from inference.quality.evaluation import RENDERERS, VIEWS, evaluate_object, summarise, to_json, write_reference_set  # torch, as above

    if renderer not in RENDERERS:
        fail(f"--renderer {renderer!r}: choose one of {', '.join(RENDERERS)}")
    params = resolve_params(generation, DEFAULT_PRESET)
    if make_reference_set:
        write_reference_set(mesh_dir)
    objects = sorted(p for p in mesh_dir.rglob("*.obj"))
    if not objects:
        fail(f"{mesh_dir}: no .obj files found (use --make-reference-set for the default set)")
    methods = ("single",) if single_only else ("single", "four", "baselines")
    f_methods = ("single",) if single_only else ("single", "four", "visual_hull", "slab", "ellipsoid")
    psnr = "psnr_lit" if lit else "psnr"
    shown = "lit" if lit else "unlit"
    columns = [f"{m} f@0.1" for m in f_methods] + [f"single {view}" for view in VIEWS] + ([] if single_only else ["four front"])
    table = Table("object", *columns, title=f"quality harness (F-score at τ 0.1; PSNR dB per side, re-rendered {shown} by {renderer})")

    def row(name: str, scores: dict) -> None:
        psnrs = [f"{scores['single'][f'{psnr}_{view}']:.1f}" for view in VIEWS]
        four = [] if single_only else [f"{scores['four'][f'{psnr}_front']:.1f}"]
        table.add_row(name, *(f"{scores[m]['f@0.1']:.3f}" for m in f_methods), *psnrs, *four)

    results = []
    for obj in objects:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                sheet = None if sheets is None else sheets / f"{obj.stem}.png"
                result = evaluate_object(obj, size=size, params=params, renderer=renderer, methods=methods, sheet=sheet)
            except (ValueError, OSError, RuntimeError) as exc:
                err_console.print(f"[red]failed[/red] {obj}: {exc}", highlight=False)
                continue
        results.append(result)
        row(result.name, result.scores)
        say(f"scored {result.name}")
    if not results:
        fail("no object could be scored", 1)
    row("[bold]mean[/bold]", summarise(results))
    console.print(table)
    if json_out is not None:
        write_atomically(json_out, to_json(results).encode())


def blender_addon(
    destination: Path = typer.Argument(Path("."), help="A folder (the add-on is written into it as meshmill_blender.py) or a file name."),
) -> None:
    """Write Meshmill's Blender add-on: File › Import › Meshmill asset (.glb) groups levels of detail and names textures,
    and works on Blender 3.4 as Debian 12 ships it. Install it in Blender › Preferences › Add-ons › Install…"""
    from inference.mesh.fbx import ADDON

    target = destination / ADDON.name if destination.is_dir() else destination
    write_atomically(target, ADDON.read_bytes())
    say(f"wrote {target}: in Blender, Edit › Preferences › Add-ons › Install… and tick 'Import-Export: Meshmill asset'")
