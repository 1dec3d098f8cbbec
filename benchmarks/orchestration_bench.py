"""Orchestration overhead: 20 images through `meshmill convert` against a plain loop, one run each.

    .venv/bin/python benchmarks/orchestration_bench.py [--images 20]

The images are the four bundled samples, each also flipped, rotated and rescaled (20 distinct
files). Both sides make one mobile-preset GLB per image from the same inference functions
(decode, cut-out, upscale ×2 and frame, shape, texture, preview). The plain loop writes GLBs to a
folder; `convert` also ingests into the catalog, stores every stage's blob, records outputs and
runs each stage as a Dagster run on a persistent instance. Each side is timed as a whole command
in a fresh process (interpreter start and imports included), so the ratio is what a user waits.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
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
        image = Image.open(samples[n % len(samples)])
        edits[(n // len(samples)) % len(edits)](image).save(folder / f"image_{n:02d}.png")


def plain_loop(folder: Path, out: Path) -> None:
    """The same inference functions, no catalog, no Dagster."""
    from inference.generators import get_generator
    from inference.images.decode import decode_image
    from inference.mesh.preview import preview_png
    from inference.params import GenerationParams
    from inference.pipeline import clean_views, make_shape, texture_mesh, upscale_views

    params = GenerationParams.resolve("mobile", upscale=2)
    generator = get_generator("builtin")
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.glob("*.png")):
        image = decode_image(path.read_bytes(), path.name).image
        views = upscale_views(clean_views({"front": image}, params), params)
        textured = texture_mesh(make_shape(views, params, generator), views, params, path.stem)
        (out / f"{path.stem}.glb").write_bytes(textured.glb)
        (out / f"{path.stem}.png").write_bytes(preview_png(textured.mesh))


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--plain", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain_loop(Path(args.plain), Path(args.plain) / "out")
        return
    meshmill = str(Path(sys.executable).with_name("meshmill"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        make_images(folder, args.images)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MESHMILL_", "DAGSTER_"))}
        env.update(MESHMILL_HOME=str(Path(tmp) / "home"), DAGSTER_HOME=str(Path(tmp) / "dagster"))
        subprocess.run([meshmill, "variant", "add", "mobile", "--preset", "mobile"], env=env, check=True, capture_output=True)
        plain = timed([sys.executable, __file__, "--plain", str(folder)], env)
        convert = timed([meshmill, "convert", str(folder), "--variant", "mobile", "--upscale", "2"], env)
    print(f"\norchestration benchmark: {args.images} images, mobile preset, one run each")
    print(f"{'plain in-process loop':34} {plain:7.1f} s  ({plain / args.images:.2f} s an image)")
    print(f"{'meshmill convert (Dagster)':34} {convert:7.1f} s  ({convert / args.images:.2f} s an image)")
    print(f"{'ratio':34} {convert / plain:7.2f}")


if __name__ == "__main__":
    main()
