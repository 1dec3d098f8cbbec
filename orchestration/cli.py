"""The ``meshmill`` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

import catalog
from catalog import CatalogError, LabelError
from catalog.blobs import BlobError
from orchestration.ingest import ingest_paths

app = typer.Typer(help="Meshmill: batch image-to-3D assets for game studios.", no_args_is_help=True)
catalog_app = typer.Typer(help="Query and label the catalog.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
variant_app = typer.Typer(help="Named, stored parameter sets: one output per image × variant.", no_args_is_help=True)
app.add_typer(variant_app, name="variant")
models_app = typer.Typer(help="Shape backends: what is installed, where weights are looked for, a test run.")
app.add_typer(models_app, name="models")

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _engine():  # noqa: ANN202
    try:
        return catalog.get_engine()
    except ValueError as exc:
        fail(str(exc))


def _blobs() -> catalog.BlobStore:
    try:
        return catalog.blob_store_from_env()
    except (BlobError, ValueError) as exc:
        fail(str(exc))
        raise  # unreachable


def _label_options(collections: list[str], tags: list[str]) -> tuple[list[str], list[str]]:
    """Validated --collection and --tag values; a bad one ends the command before anything is stored."""
    try:
        return [catalog.normalise_label(c, "collection") for c in collections], [catalog.normalise_label(t, "tag") for t in tags]
    except LabelError as exc:
        fail(str(exc))
        raise  # unreachable


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="Image files or folders (searched recursively)."),
    collection: list[str] = typer.Option([], "--collection", "-c", help="Collection to put the images in."),
    tag: list[str] = typer.Option([], "--tag", "-t", help="Tag for every image (repeatable)."),
    origin: Optional[str] = typer.Option(None, help="Style model or tool that made the images."),
) -> None:
    """Store images and record them in the catalog, skipping exact duplicates."""
    collections, tags = _label_options(collection, tag)
    engine, blobs = _engine(), _blobs()
    counts = {"added": 0, "duplicate": 0, "failed": 0}
    for result in ingest_paths(paths, engine, blobs, collections=collections, tags=tags, origin=origin):
        counts[result.outcome] += 1
        if result.outcome == "added":
            console.print(f"[green]added[/green]     #{result.source_id} {result.path} ({result.detail})", highlight=False)
        elif result.outcome == "duplicate":
            console.print(f"[yellow]duplicate[/yellow] #{result.source_id} {result.path}", highlight=False)
        else:
            err_console.print(f"[red]failed[/red]    {result.path}: {result.detail}", highlight=False)
    console.print(f"catalog: {engine.url.render_as_string(hide_password=True)}  blobs: {blobs.describe()}",
                  highlight=False, soft_wrap=True)  # fmt: skip
    console.print(f"{counts['added']} added, {counts['duplicate']} duplicate, {counts['failed']} failed", highlight=False)
    if counts["failed"]:
        raise typer.Exit(1)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


def _summarise_outputs(outputs: list[dict[str, Any]]) -> str:
    return ", ".join(f"{o['variant']}:{o['status']}" for o in outputs) or "-"


@catalog_app.command("find")
def catalog_find(
    tag: list[str] = typer.Option([], "--tag", "-t", help="Must carry every one of these tags."),
    any_tag: list[str] = typer.Option([], "--any-tag", help="Must carry at least one of these tags."),
    collection: Optional[str] = typer.Option(None, "--collection", "-c"),
    variant: Optional[str] = typer.Option(None, help="Only images with an output of this variant."),
    status: Optional[catalog.OutputStatus] = typer.Option(None, help="Only outputs in this state."),
    limit: int = typer.Option(50, min=1, max=1000, help="Page size."),
    before: Optional[int] = typer.Option(None, help="Next page: the last id of the previous one."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: one object per source image."),
) -> None:
    """Find source images (newest first) by tags, collection, variant and output status."""
    try:
        records = catalog.find(
            _engine(),
            tags=tag,
            any_tags=any_tag,
            collection=collection,
            variant=variant,
            status=status.value if status else None,
            limit=limit,
            before_id=before,
        )
    except (LabelError, ValueError) as exc:
        fail(str(exc))
    if as_json:
        _print_json(records)
        return
    table = Table("id", "file", "size", "tags", "collections", "outputs", title=f"{len(records)} source images")
    for r in records:
        table.add_row(
            str(r["id"]), r["filename"], f"{r['width']}×{r['height']}", ", ".join(r["tags"]),
            ", ".join(r["collections"]), _summarise_outputs(r["outputs"]),
        )  # fmt: skip
    console.print(table)
    if len(records) == limit:
        console.print(f"more: add --before {records[-1]['id']}", highlight=False)


@catalog_app.command("show")
def catalog_show(
    source_id: int = typer.Argument(..., metavar="ID", help="Source image id."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Everything the catalog knows about one source image and its outputs."""
    try:
        record = catalog.show(_engine(), source_id)
    except CatalogError as exc:
        fail(str(exc), 1)
    if as_json:
        _print_json(record)
        return
    console.print(f"[bold]#{record['id']}[/bold] {record['filename']}", highlight=False)
    for field in ("content_hash", "origin", "width", "height", "mode", "source_format", "byte_size", "blob_key", "created_at"):
        console.print(f"  {field:14} {record[field]}", highlight=False)
    console.print(f"  {'tags':14} {', '.join(record['tags']) or '-'}", highlight=False)
    console.print(f"  {'collections':14} {', '.join(record['collections']) or '-'}", highlight=False)
    table = Table("output", "variant", "status", "faces", "bytes", "glb", "tags", "error", title="outputs")
    for o in record["outputs"]:
        table.add_row(
            str(o["id"]), o["variant"], o["status"], str(o["face_count"] or "-"), str(o["byte_size"] or "-"),
            o["blob_keys"]["glb"] or "-", ", ".join(o["tags"]), (o["error"] or "")[:80],
        )  # fmt: skip
    console.print(table)


def _edit(kind: str, source_id: int, add: list[str], remove: list[str], variant: Optional[str]) -> None:
    try:
        now = catalog.edit_labels(_engine(), kind, source_id, add=add, remove=remove, variant=variant)  # type: ignore[arg-type]
    except LabelError as exc:
        fail(str(exc))
    except CatalogError as exc:
        fail(str(exc), 1)
    target = f"#{source_id}" + (f" ({variant})" if variant else "")
    console.print(f"{target} {kind}s: {', '.join(now) or '-'}", highlight=False)


@catalog_app.command("tag")
def catalog_tag(
    source_id: int = typer.Argument(..., metavar="ID", help="Source image id."),
    add: list[str] = typer.Option([], "--add", "-a"),
    remove: list[str] = typer.Option([], "--remove", "-r"),
    variant: Optional[str] = typer.Option(None, help="Tag the image's output for this variant instead."),
) -> None:
    """Add or remove tags on a source image, or on one of its outputs."""
    _edit("tag", source_id, add, remove, variant)


@catalog_app.command("collect")
def catalog_collect(
    source_id: int = typer.Argument(..., metavar="ID", help="Source image id."),
    add: list[str] = typer.Option([], "--add", "-a"),
    remove: list[str] = typer.Option([], "--remove", "-r"),
    variant: Optional[str] = typer.Option(None, help="Change the collections of this variant's output instead."),
) -> None:
    """Add a source image (or one of its outputs) to collections, or take it out."""
    _edit("collection", source_id, add, remove, variant)


@catalog_app.command("collections")
def catalog_collections(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every collection, with how many images and outputs it holds."""
    rows = catalog.list_collections(_engine())
    if as_json:
        _print_json(rows)
        return
    table = Table("collection", "images", "outputs", "created")
    for row in rows:
        table.add_row(row["name"], str(row["images"]), str(row["outputs"]), row["created_at"][:19])
    console.print(table)


def _read_view(path: Path, view: str):  # noqa: ANN202
    from inference.images import ImageError, decode_image

    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"{view} view {path}: cannot read ({exc.strerror or exc})")
    try:
        return decode_image(data, f"{view} view {path}").image
    except ImageError as exc:
        fail(str(exc))


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _generator(backend: str):  # noqa: ANN202
    """Build a backend's generator, or end the command naming what is missing (package, weights, server)."""
    from inference.backends import get_generator
    from inference.weights import ModelUnavailable

    try:
        return get_generator(backend)
    except (ModelUnavailable, ValueError) as exc:
        fail(str(exc), 1)


@app.command()
def generate(
    front: Path = typer.Argument(..., help="Front view (camera on +Z): the image to convert."),
    output: Path = typer.Option(..., "--output", "-o", help="GLB file to write."),
    left: Optional[Path] = typer.Option(None, help="Left view: camera on +X, showing the object's own left side."),
    back: Optional[Path] = typer.Option(None, help="Back view: camera on -Z."),
    right: Optional[Path] = typer.Option(None, help="Right view: camera on -X."),
    preset: Optional[str] = typer.Option(None, help="Polygon budget: mobile (5k faces), desktop (20k), hero (60k)."),
    faces: Optional[int] = typer.Option(None, help="Target face count, 500-200000 (overrides the preset)."),
    texture_size: Optional[int] = typer.Option(None, help="Texture edge in pixels, 512-4096."),
    steps: Optional[int] = typer.Option(None, help="Sampling steps (builtin: volume resolution); default and range per backend."),
    guidance: Optional[float] = typer.Option(None, help="Guidance scale (builtin: roundness); default and range per backend."),
    octree_resolution: Optional[int] = typer.Option(None, help="Decoded volume resolution (Hunyuan, Direct3D-S2)."),
    stage2_steps: Optional[int] = typer.Option(None, help="Second sampler's steps (TRELLIS)."),
    stage2_guidance: Optional[float] = typer.Option(None, help="Second sampler's guidance (TRELLIS)."),
    seed: Optional[int] = typer.Option(None, help="Random seed; the same seed gives the same mesh."),
    backend: str = typer.Option("builtin", help="Shape generator: see `meshmill models`."),
    upscale: Optional[int] = typer.Option(None, help="Upscale the views before texturing: 1, 2 or 4."),
    upscaler: Optional[str] = typer.Option(None, help="builtin, realesrgan-x4, realesrgan-x2, realesrgan-anime-x4 or sd-x4."),
    background: Optional[str] = typer.Option(None, help="Background remover: builtin or a rembg model (u2net, birefnet-general, …)."),
    keep_background: bool = typer.Option(False, "--keep-background", help="Use the image's own alpha; no background removal."),
    obj: Optional[Path] = typer.Option(None, "--obj", help="Also write OBJ + MTL + PNG into this folder."),
) -> None:
    """Turn one image (or up to four views) into a textured GLB. No catalog, no Dagster."""
    import warnings as _warnings

    from inference.cleanup import MeshError
    from inference.export import write_obj
    from inference.params import GenerationParams, ParameterError
    from inference.pipeline import generate_asset
    from inference.views import ViewError

    try:
        params = GenerationParams.resolve(
            preset or "desktop", backend=backend, target_faces=faces, texture_size=texture_size, steps=steps,
            guidance=guidance, octree_resolution=octree_resolution, stage2_steps=stage2_steps,
            stage2_guidance=stage2_guidance, seed=seed, upscale=upscale, upscaler=upscaler, background=background,
            remove_background=not keep_background,
        )  # fmt: skip
    except ParameterError as exc:
        fail(str(exc))
    generator = _generator(params.backend)
    paths = {"front": front, "left": left, "back": back, "right": right}
    images = {view: _read_view(path, view) for view, path in paths.items() if path is not None}
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            asset = generate_asset(images, params, generator, name=output.stem)
    except (ViewError, MeshError, ValueError, RuntimeError) as exc:
        fail(str(exc), 1)
    for note in asset.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {note}", highlight=False)
    _write_atomically(output, asset.glb)
    console.print(f"wrote {output}", highlight=False)
    if obj is not None:
        for path in write_obj(asset.mesh, obj, output.stem):
            console.print(f"wrote {path}", highlight=False)
    table = Table("stage", "seconds", title=f"{asset.model_name} {asset.model_version}: {asset.faces} faces, "
                  f"{asset.vertices} vertices, {len(asset.glb):,} bytes")  # fmt: skip
    for stage, seconds in asset.timings.items():
        table.add_row(stage, f"{seconds:.2f}")
    console.print(table)


@app.command("eval")
def evaluate(
    mesh_dir: Path = typer.Argument(..., help="Folder of ground-truth meshes (OBJ, +Y up, front +Z), searched recursively."),
    make_reference_set: bool = typer.Option(False, help="First write the default set (meshes from pybullet_data) into MESH_DIR."),
    size: int = typer.Option(512, help="Render size of each view in pixels."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write every score as JSON here."),
) -> None:
    """Quality harness: reconstruct real meshes from their renders; Chamfer, F-score and PSNR against baselines."""
    import warnings as _warnings

    from inference.evaluation import evaluate_object, summarise, to_json, write_reference_set

    if make_reference_set:
        write_reference_set(mesh_dir)
    objects = sorted(p for p in mesh_dir.rglob("*.obj"))
    if not objects:
        fail(f"{mesh_dir}: no .obj files found (use --make-reference-set for the default set)")
    results = []
    columns = ["single f@0.1", "four f@0.1", "hull f@0.1", "slab f@0.1", "ellipsoid f@0.1", "single psnr", "four psnr"]
    table = Table("object", "single CD", *columns, title="quality harness (F-score at τ; CD = Chamfer; PSNR dB, front view)")
    for obj in objects:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            try:
                result = evaluate_object(obj, size=size)
            except (ValueError, OSError) as exc:
                err_console.print(f"[red]failed[/red] {obj}: {exc}", highlight=False)
                continue
        results.append(result)
        s = result.scores
        table.add_row(
            result.name, f"{s['single']['chamfer']:.3f}", *(f"{s[m]['f@0.1']:.3f}" for m in ("single", "four", "visual_hull", "slab", "ellipsoid")),
            f"{s['single']['psnr_front']:.1f}", f"{s['four']['psnr_front']:.1f}",
        )  # fmt: skip
        console.print(f"scored {result.name}", highlight=False)
    if not results:
        fail("no object could be scored", 1)
    mean = summarise(results)
    table.add_row(
        "[bold]mean[/bold]", f"{mean['single']['chamfer']:.3f}", *(f"{mean[m]['f@0.1']:.3f}" for m in ("single", "four", "visual_hull", "slab", "ellipsoid")),
        f"{mean['single']['psnr_front']:.1f}", f"{mean['four']['psnr_front']:.1f}",
    )  # fmt: skip
    console.print(table)
    if json_out is not None:
        _write_atomically(json_out, to_json(results).encode())


@variant_app.command("add")
def variant_add(
    name: str = typer.Argument(..., help="Variant name, e.g. mobile, hero-hunyuan."),
    backend: str = typer.Option("builtin", help="Shape generator."),
    preset: Optional[str] = typer.Option(None, help="mobile, desktop or hero."),
    faces: Optional[int] = typer.Option(None, help="Target faces, 500-200000."),
    texture_size: Optional[int] = typer.Option(None, help="Texture edge, 512-4096."),
    steps: Optional[int] = typer.Option(None, help="Default and range per backend (`meshmill models`)."),
    guidance: Optional[float] = typer.Option(None),
    octree_resolution: Optional[int] = typer.Option(None),
    stage2_steps: Optional[int] = typer.Option(None),
    stage2_guidance: Optional[float] = typer.Option(None),
    seed: Optional[int] = typer.Option(None),
) -> None:
    """Define (or redefine) a variant; its partitions appear for every image at the next convert."""
    from inference.params import GenerationParams, ParameterError

    extra = {"octree_resolution": octree_resolution, "stage2_steps": stage2_steps, "stage2_guidance": stage2_guidance}
    try:
        params = GenerationParams.resolve(preset, backend=backend, target_faces=faces, texture_size=texture_size,
                                          steps=steps, guidance=guidance, seed=seed, **extra)  # fmt: skip
        catalog.define_variant(
            _engine(), name, backend=params.backend, preset=params.preset, steps=params.steps, guidance=params.guidance,
            target_faces=params.target_faces, seed=params.seed, texture_size=params.texture_size,
            extra={k: getattr(params, k) for k, v in extra.items() if v is not None},
        )  # fmt: skip
    except (ParameterError, LabelError) as exc:
        fail(str(exc))
    from orchestration.convert import dagster_instance
    from orchestration.partitions import variants

    dagster_instance().add_dynamic_partitions(variants.name, [name.lower()])
    console.print(f"variant {name.lower()}: {params.backend}, {params.target_faces} faces, texture {params.texture_size}", highlight=False)


@variant_app.command("list")
def variant_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every variant and its parameters."""
    rows = catalog.list_variants(_engine())
    if as_json:
        _print_json(rows)
        return
    table = Table("variant", "backend", "preset", "faces", "texture", "steps", "guidance", "seed")
    for r in rows:
        table.add_row(r["name"], r["backend"], r["preset"] or "-", *(str(r[k]) for k in ("target_faces", "texture_size", "steps", "guidance", "seed")))
    console.print(table)


DEFAULT_VARIANT = "desktop"


@app.command()
def convert(
    paths: list[Path] = typer.Argument(..., help="Image files or folders."),
    collection: list[str] = typer.Option([], "--collection", "-c"),
    tag: list[str] = typer.Option([], "--tag", "-t"),
    variant: list[str] = typer.Option([], "--variant", "-v", help="Variants to make (default: every defined one, or 'desktop')."),
    origin: Optional[str] = typer.Option(None),
    upscale: int = typer.Option(2, help="Upscale factor of the image stage: 1, 2 or 4."),
    upscaler: str = typer.Option("builtin", help="builtin, realesrgan-x4, realesrgan-x2, realesrgan-anime-x4 or sd-x4."),
    background: str = typer.Option("builtin", help="Background remover: builtin or a rembg model (u2net, birefnet-general, …)."),
) -> None:
    """The main job: ingest images and turn each into textured GLBs through Dagster (runs show in the UI)."""
    from rich.progress import Progress

    from inference.params import GenerationParams, ParameterError
    from orchestration.convert import dagster_instance, keys_for, materialise
    from orchestration.partitions import image_key

    collections, tags = _label_options(collection, tag)
    try:
        GenerationParams.resolve(None, upscale=upscale, upscaler=upscaler, background=background)
    except ParameterError as exc:
        fail(str(exc))
    engine, blobs = _engine(), _blobs()
    defined = {v["name"] for v in catalog.list_variants(engine)}
    wanted = [v.lower() for v in variant] or sorted(defined) or [DEFAULT_VARIANT]
    if wanted == [DEFAULT_VARIANT] and DEFAULT_VARIANT not in defined:
        catalog.define_variant(engine, DEFAULT_VARIANT, backend="builtin", preset="desktop", target_faces=20_000, texture_size=2048)
        defined.add(DEFAULT_VARIANT)
    missing = [v for v in wanted if v not in defined]
    if missing:
        fail(f"unknown variant(s) {', '.join(missing)}: define them with `meshmill variant add`")
    hashes, bad, names = [], [], {}
    for result in ingest_paths(paths, engine, blobs, collections=collections, tags=tags, origin=origin):
        if result.outcome == "failed":
            bad.append((str(result.path), result.detail))
            err_console.print(f"[red]failed[/red]    {result.path}: {result.detail}", highlight=False)
        else:
            hashes.append(result.content_hash)
            names[image_key(result.content_hash)] = result.path.name
    keys = keys_for(hashes)
    instance = dagster_instance()
    total = len(keys) * (1 + len(wanted))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("converting", total=total)
        report = materialise(instance, keys, wanted, upscale=upscale, upscaler=upscaler, background=background,
                             on_progress=lambda o: progress.advance(task))  # fmt: skip
    table = Table("file", "partition", "stage", "result", "run", title=f"{len(keys)} images × {len(wanted)} variants")
    for o in report.outcomes:
        result = "[green]ok[/green]" if o.success else f"[red]{o.error}[/red]"
        table.add_row(names.get(o.image, "-"), o.image, o.variant or "images", result, o.run_id[:8])
    console.print(table)
    ok = sum(o.success for o in report.outcomes if o.variant)
    console.print(f"{ok} of {len(keys) * len(wanted)} GLBs made; {len(bad)} files refused at ingest; "
                  f"Dagster instance: {instance.root_directory} (open it with `meshmill ui`)", highlight=False)  # fmt: skip
    if report.failures or bad:
        for o in report.failures:
            err_console.print(f"[red]failed[/red] {names.get(o.image, o.image)} {o.variant or 'images'}: {o.error}", highlight=False)
        raise typer.Exit(1)


@app.command()
def ui(port: int = typer.Option(3000), host: str = typer.Option("127.0.0.1")) -> None:
    """Start the Dagster webserver and daemon for this project on 127.0.0.1."""
    import shutil
    import subprocess

    from orchestration.convert import REPO_ROOT, dagster_instance

    dagster_instance()  # makes DAGSTER_HOME and its dagster.yaml
    beside = Path(sys.executable).with_name("dagster")
    dagster = str(beside) if beside.exists() else shutil.which("dagster") or "dagster"
    command = [dagster, "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-h", host, "-p", str(port)]
    raise typer.Exit(subprocess.call(command, cwd=REPO_ROOT))


def main() -> None:  # pragma: no cover
    app()


@models_app.callback(invoke_without_command=True)
def models_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Every backend: its package, its weights (and where they were looked for), its device and parameters."""
    if ctx.invoked_subcommand is not None:
        return
    from inference.backends import backend_report, image_model_report
    from inference.weights import MODELS_DIR_ENV, models_dir

    rows, image_rows = backend_report(), image_model_report()
    if as_json:
        _print_json(rows + image_rows)
        return
    for r in rows:
        ready = "[green]ready[/green]" if r["ready"] else "[red]not ready[/red]"
        console.print(f"[bold]{r['name']}[/bold]  {ready}  {r['description']}", highlight=False)
        params = "; ".join(f"{k} {v['default']:g} ({v['low']:g}–{v['high']:g})" for k, v in r["params"].items())
        for label, value in (("package", r["package"]), ("weights", r["weights"]), ("device", r["device"]),
                             ("views", ", ".join(r["views"])), ("params", params)):  # fmt: skip
            console.print(f"    {label:8} {value}", highlight=False)
    console.print("[bold]upscalers and background removers[/bold]")
    for r in image_rows:
        ready = "[green]ready[/green]" if r["ready"] else "[red]not ready[/red]"
        package = "" if r["package"] == "installed" else f"  ({r['package']})"
        console.print(f"    {r['name']} ({r['kind']})  {ready}  {r['weights']}{package}", highlight=False)
    console.print(f"models folder: {models_dir()} (set {MODELS_DIR_ENV})", highlight=False)
    import torch  # only here: `--json` answers without loading it

    cuda = torch.cuda.get_device_name() if torch.cuda.is_available() else "none: learned backends run on the CPU, slowly"
    console.print(f"torch {torch.__version__}; CUDA device: {cuda}", highlight=False)


@models_app.command("check")
def models_check(name: str = typer.Argument(..., help="Backend to load and run once.")) -> None:
    """Load a backend and run one small generation on a drawn test object."""
    import time

    from inference.backends import check_generator

    start = time.perf_counter()
    generator = _generator(name)
    loaded = time.perf_counter() - start
    try:
        result = check_generator(generator)
    except (ValueError, RuntimeError) as exc:
        fail(f"{name}: the test generation failed: {exc}", 1)
    console.print(
        f"{name} ok: {result['faces']} faces, {result['bytes']:,} bytes of GLB in {result['seconds']:.1f} s "
        f"(model load {loaded:.1f} s) — {generator.version}", highlight=False,
    )  # fmt: skip


@app.command("model-server")
def model_server(
    backend: str = typer.Option(..., help="In-process backend to serve, e.g. hunyuan3d-2."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for every one)."),
    port: int = typer.Option(8081),
    device: Optional[str] = typer.Option(None, help="cuda, cpu, cuda:1 … (default: CUDA when present)."),
) -> None:
    """Serve a backend over HTTP with Hunyuan3D-2's api_server protocol, for `--backend remote` elsewhere."""
    import uvicorn

    from inference.weights import ModelUnavailable
    from orchestration.model_server import create_app

    try:
        server = create_app(backend, device)
    except (ModelUnavailable, ValueError) as exc:
        fail(str(exc), 1)
    uvicorn.run(server, host=host, port=port, log_level="info")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for every one)."),
    port: int = typer.Option(8787),
    allow_edits: bool = typer.Option(False, "--allow-edits", help="Let the pages add and remove tags and collections."),
) -> None:
    """The catalog web app: search by tag and collection, a 3D viewer per output, side-by-side variants, downloads."""
    import uvicorn

    from orchestration.web.app import create_app

    _engine()  # a bad MESHMILL_DATABASE_URL ends here, with its message
    console.print(f"Meshmill catalog on http://{host}:{port}/ ({'edits allowed' if allow_edits else 'read-only'})", highlight=False)
    uvicorn.run(create_app(allow_edits=allow_edits), host=host, port=port, log_level="warning")
