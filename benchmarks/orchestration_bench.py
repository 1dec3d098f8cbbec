"""Orchestration overhead and scaling: `meshmill convert` in its set-ups against a plain loop, side by side.

    .venv/bin/python benchmarks/orchestration_bench.py [--images 20 200] [--workers 2] [--celery 2] [--backend builtin] [--models tiny]

For each image count, the same images (the bundled samples, flipped, rotated and rescaled into distinct
files) go through:
- a plain in-process loop over the same inference functions (decode, cut-out, upscale ×2 and frame,
  shape, texture, preview), writing GLBs to a folder: no catalog, no Dagster;
- `meshmill convert` with one worker (ingest, catalog, every stage's blob, Dagster runs over ranges);
- `meshmill convert --workers N`;
- `meshmill convert --executor celery` through N `meshmill worker` processes on a local Redis.
Each is timed as a whole command in a fresh process (interpreter start and imports included), so a
ratio is what a user waits; a second table gives each command's CPU seconds (it and every process it waited for),
which vary less than the wall clock on a shared box. One GLB per image, mobile preset unless --preset says
otherwise. Prints the tables; nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_images(folder: Path, count: int) -> None:
    from PIL import Image, ImageOps

    samples = sorted((ROOT / "samples").glob("*.png")) + sorted((ROOT / "samples").glob("*.jpg"))
    edits = [
        lambda im: im,
        ImageOps.mirror,
        lambda im: im.rotate(8, resample=Image.BICUBIC, fillcolor=im.getpixel((0, 0))),
        lambda im: im.resize((448, 448), Image.LANCZOS),
        lambda im: im.rotate(-6, resample=Image.BICUBIC, fillcolor=im.getpixel((0, 0))).resize((480, 480), Image.LANCZOS),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        image = edits[(n // len(samples)) % len(edits)](Image.open(samples[n % len(samples)]))
        if n >= len(samples) * len(edits):  # beyond the 20 edits: shift the picture so every file is distinct
            image = image.rotate(n % 13 + 1, resample=Image.BICUBIC, fillcolor=image.getpixel((0, 0)))
        image.save(folder / f"image_{n:03d}.png")


def plain_loop(folder: Path, out: Path, backend: str, preset: str = "mobile") -> None:
    """The same inference functions, no catalog, no Dagster."""
    from inference.generators import get_generator
    from inference.images.decode import decode_image
    from inference.mesh.preview import preview_png
    from inference.params import GenerationParams
    from inference.pipeline import clean_views, make_shape, texture_mesh, upscale_views

    params = GenerationParams.resolve(preset, upscale=2, backend=backend)
    generator = get_generator(backend)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.glob("*.png")):
        image = decode_image(path.read_bytes(), path.name).image
        views = upscale_views(clean_views({"front": image}, params), params)
        textured = texture_mesh(make_shape(views, params, generator), views, params, path.stem)
        (out / f"{path.stem}.glb").write_bytes(textured.glb)
        (out / f"{path.stem}.png").write_bytes(preview_png(textured.mesh))


@dataclass(frozen=True)
class Timing:
    """A command's wall-clock seconds, and the CPU seconds (user + system) it and every process it waited for spent:
    on a box whose speed varies by a third from run to run, the CPU seconds say more about the work done."""

    wall: float
    cpu: float


def timed(command: list[str], env: dict[str, str]) -> Timing:
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return Timing(wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


MODELS: dict[str, str] = {}  # with --models: MESHMILL_MODELS_DIR for every command


def fresh_env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESHMILL_", "DAGSTER_"))}
    return {**env, **MODELS, "MESHMILL_HOME": str(root / "home"), "DAGSTER_HOME": str(root / "dagster"), **extra}


POSTGRES: dict[str, str] = {}  # with --dagster-postgres: the throwaway server's URL


def dagster_storage(root: Path) -> dict[str, str]:
    """Dagster's storage for one convert: the embedded SQLite default, or a fresh PostgreSQL database."""
    if not POSTGRES:
        return {}
    from tests.support.servers import dagster_postgres_home

    return dagster_postgres_home(POSTGRES["url"], root / "dagster")


MESHMILL = [sys.executable, "-m", "orchestration.cli"]  # the `meshmill` command, also where no console script is installed
GPU_USE: dict[str, list[float]] = {}  # per convert row: the mean utilisation of each GPU while it ran


@contextlib.contextmanager
def gpu_sampling(label: str):  # noqa: ANN201
    """nvidia-smi's utilisation of every GPU, once a second, while the block runs (nothing without a GPU)."""
    if shutil.which("nvidia-smi") is None:
        yield
        return
    query = ["nvidia-smi", "--query-gpu=index,utilization.gpu", "--format=csv,noheader,nounits", "-l", "1"]
    sampler = subprocess.Popen(query, stdout=subprocess.PIPE, text=True)
    try:
        yield
    finally:
        sampler.terminate()
        samples: dict[int, list[float]] = {}
        for line in sampler.communicate()[0].splitlines():
            index, use = (int(v) for v in line.split(","))
            samples.setdefault(index, []).append(use)
        GPU_USE[label] = [sum(v) / len(v) for _, v in sorted(samples.items())]


PRESET = {"name": "mobile"}  # --preset: every row's variant


def convert(folder: Path, root: Path, backend: str, *options: str, **extra: str) -> Timing:
    env = fresh_env(root, **dagster_storage(root), **extra)
    preset = PRESET["name"]
    timed([*MESHMILL, "variant", "add", preset, "--preset", preset, "--backend", backend], env)
    with gpu_sampling(f"{folder.parent.name}:{' '.join(options)}"):
        return timed([*MESHMILL, "convert", str(folder), "--variant", preset, "--upscale", "2", *options], env)


@contextlib.contextmanager
def celery_workers(count: int, root: Path):  # noqa: ANN201
    from tests.support.servers import celery_worker, throwaway_redis

    root.mkdir(parents=True, exist_ok=True)
    with throwaway_redis() as broker, contextlib.ExitStack() as stack:
        env = fresh_env(root, MESHMILL_CELERY_BROKER=broker)
        for n in range(count):
            stack.enter_context(celery_worker(env, f"bench{n}", root / f"worker{n}.log"))
        yield broker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, nargs="+", default=[20])
    parser.add_argument("--workers", type=int, default=2, help="the N of `convert --workers N`")
    parser.add_argument("--celery", type=int, default=2, help="Celery workers (0: leave that row out)")
    parser.add_argument("--backend", default="builtin")
    parser.add_argument("--models", help="the weights folder of a learned --backend; `tiny`: build the tests' tiny random Hunyuan3D models")
    parser.add_argument("--dagster-postgres", action="store_true", help="Dagster's runs and events on a throwaway PostgreSQL")
    parser.add_argument("--more-workers", type=int, nargs="*", default=[], help="also time `--workers N` for these N")
    parser.add_argument("--preset", default="mobile", help="the preset of every row's GLBs")
    parser.add_argument("--plain", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain_loop(Path(args.plain[0]), Path(args.plain[0]) / "out", args.plain[1], args.plain[2])
        return
    PRESET["name"] = args.preset
    with contextlib.ExitStack() as stack:
        if args.models == "tiny":
            from tests.support.tiny_hunyuan import build_tested_models

            MODELS["MESHMILL_MODELS_DIR"] = str(build_tested_models(Path(stack.enter_context(tempfile.TemporaryDirectory()))))
        elif args.models:
            MODELS["MESHMILL_MODELS_DIR"] = str(Path(args.models).resolve())
        if args.dagster_postgres:
            from tests.support.servers import throwaway_postgres

            POSTGRES["url"] = stack.enter_context(throwaway_postgres(durable=True))
        run(args)


def run(args: argparse.Namespace) -> None:
    rows = []
    for count in args.images:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            folder = root / "images"
            make_images(folder, count)
            plain = timed([sys.executable, __file__, "--plain", str(folder), args.backend, args.preset], fresh_env(root / "plain"))
            (folder / "out").rename(root / "plain-out")  # not an input of the runs below
            one = convert(folder, root / "one", args.backend, "--workers", "1")
            many = convert(folder, root / "many", args.backend, "--workers", str(args.workers))
            more = [(n, convert(folder, root / f"w{n}", args.backend, "--workers", str(n))) for n in args.more_workers]
            celery = None
            if args.celery:
                with celery_workers(args.celery, root / "celery") as broker:
                    celery = convert(folder, root / "celery", args.backend, "--executor", "celery", "--workers", str(args.celery),
                                     MESHMILL_CELERY_BROKER=broker)  # fmt: skip
            rows.append((count, plain, one, many, celery))
            for n, t in more:
                print(f"{count} images, {n} workers: {t.wall:.1f} s, {one.wall / t.wall:.2f}× one worker's images per hour", flush=True)
            walls = f"plain {plain.wall:.1f} s, 1 worker {one.wall:.1f} s, {args.workers} workers {many.wall:.1f} s"
            print(f"{count} images done: {walls}", flush=True)
    storage = "PostgreSQL" if args.dagster_postgres else "SQLite (embedded)"
    print(f"\norchestration benchmark: {args.backend}, {args.preset} preset, upscale ×2, {os.cpu_count()} cores, Dagster storage {storage}")
    header = f"{'images':>6} {'plain loop':>11} {'1 worker':>9} {'ratio':>6} {f'{args.workers} workers':>10} {'speed-up':>9}"
    print(header + (f" {f'{args.celery} Celery':>9} {'speed-up':>9}" if args.celery else ""))
    for count, plain, one, many, celery in rows:
        line = f"{count:>6} {plain.wall:10.1f}s {one.wall:8.1f}s {one.wall / plain.wall:6.2f}"
        line += f" {many.wall:9.1f}s {one.wall / many.wall:8.2f}×"
        print(line + (f" {celery.wall:8.1f}s {one.wall / celery.wall:8.2f}×" if celery else ""))
    print("CPU seconds (user + system, every process of the command; Celery workers run outside it and are not counted):")
    print(f"{'images':>6} {'plain loop':>11} {'1 worker':>9} {'ratio':>6} {f'{args.workers} workers':>10} {'ratio':>6}")
    for count, plain, one, many, _ in rows:
        print(f"{count:>6} {plain.cpu:10.1f}s {one.cpu:8.1f}s {one.cpu / plain.cpu:6.2f} {many.cpu:9.1f}s {many.cpu / plain.cpu:6.2f}")
    for label, use in GPU_USE.items():
        print(
            f"GPU utilisation while `convert {label.split(':', 1)[1]}` ran ({label.split(':')[0]}): "
            + ", ".join(f"GPU {i} {u:.0f} %" for i, u in enumerate(use))
        )


if __name__ == "__main__":
    main()
