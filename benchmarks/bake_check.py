"""The bake on every torch device: one shape, textured on the CPU and on CUDA, with and without de-lighting, and
with its texture carried over from a textured surface (``--texture-source backend``, with a normal map).

    .venv/bin/python benchmarks/bake_check.py [--inputs DIR] [--runs 3]

Prints the texture stage's seconds (median after a warm-up) per device and how far the CUDA texture is from
the CPU one (the same shape and atlas, so texel for texel). Inputs: ``front.png`` in DIR, default the pybullet
duck's front view as ``benchmarks/generate_bench.py --write-inputs DIR`` renders it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import trimesh
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from generate_bench import make_inputs  # noqa: E402  (beside this script)

from inference.generators import get_generator  # noqa: E402
from inference.params import GenerationParams  # noqa: E402
from inference.pipeline import Shape, clean_views, make_shape, texture_mesh, upscale_views  # noqa: E402
from inference.views import FramedViews  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=Path, help="folder holding front.png (default: render the duck)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--preset", default="desktop")
    args = parser.parse_args()
    if args.inputs is None:
        args.inputs = Path(tempfile.mkdtemp(prefix="meshmill-bake-"))
        make_inputs(args.inputs)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}; devices: {', '.join(devices)}")
    params = GenerationParams.resolve(args.preset)
    views = upscale_views(clean_views({"front": Image.open(args.inputs / "front.png")}, params), params, "cpu")
    shape = make_shape(views, params, get_generator("builtin", "cpu"))
    delit = time_texture(shape, views, params, devices, args.runs, "de-lit")
    time_texture(shape, views, params.model_copy(update={"keep_lighting": True}), devices, args.runs, "kept")
    # a backend's textured surface: the textured asset itself stands in for one (its texture carried onto a new atlas)
    shape.painted = delit
    carried = params.model_copy(update={"texture_source": "backend", "normal_map": True})  # builtin makes none: not validated
    time_texture(shape, views, carried, devices, args.runs, "backend texture (with a normal map)")


def time_texture(shape: Shape, views: FramedViews, params: GenerationParams, devices: list[str], runs: int, label: str) -> trimesh.Trimesh:
    """Print the texture stage's median seconds per device and how far CUDA's texture is from the CPU's; returns the
    CPU's textured mesh."""
    textures, meshes = {}, {}
    for device in devices:
        seconds = []
        for _ in range(runs + 1):  # the first is a warm-up
            timings: dict[str, float] = {}
            meshes[device] = texture_mesh(shape, views, params, timings=timings, device=device).mesh
            seconds.append(timings["texture"])
        textures[device] = np.asarray(meshes[device].visual.material.baseColorTexture).astype(int)
        print(f"{label} {device}: texture stage {statistics.median(seconds[1:]):.3f} s")
    if "cuda" in textures:
        diff = np.abs(textures["cpu"] - textures["cuda"])
        print(f"{label} cuda vs cpu: mean |Δ| {diff.mean():.4f}, max {diff.max()} (of 255)")
    return meshes["cpu"]


if __name__ == "__main__":
    main()
