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
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from generate_bench import make_inputs  # noqa: E402  (beside this script)

from inference.generators import get_generator  # noqa: E402
from inference.params import GenerationParams  # noqa: E402
from inference.pipeline import clean_views, make_shape, texture_mesh, upscale_views  # noqa: E402


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
    front = Image.open(args.inputs / "front.png")
    for keep in (False, True):
        params = GenerationParams.resolve(args.preset).model_copy(update={"keep_lighting": keep})
        views = upscale_views(clean_views({"front": front}, params), params, "cpu")
        shape = make_shape(views, params, get_generator("builtin", "cpu"))
        textures = {}
        for device in devices:
            seconds = []
            for _ in range(args.runs + 1):
                timings: dict[str, float] = {}
                out = texture_mesh(shape, views, params, timings=timings, device=device)
                seconds.append(timings["texture"])
            textures[device] = np.asarray(out.mesh.visual.material.baseColorTexture).astype(int)
            print(f"{'kept' if keep else 'de-lit'} {device}: texture stage {statistics.median(seconds[1:]):.3f} s")
        if "cuda" in textures:
            diff = np.abs(textures["cpu"] - textures["cuda"])
            print(f"{'kept' if keep else 'de-lit'} cuda vs cpu: mean |Δ| {diff.mean():.4f}, max {diff.max()} (of 255)")
    # a backend's textured surface: the textured asset itself stands in for one (its texture carried onto a new atlas)
    params = params.model_copy(update={"texture_source": "backend", "normal_map": True})  # builtin makes none: not validated
    shape.painted = out.mesh
    textures = {}
    for device in devices:
        seconds = []
        for _ in range(args.runs + 1):
            timings = {}
            carried = texture_mesh(shape, views, params, timings=timings, device=device)
            seconds.append(timings["texture"])
        textures[device] = np.asarray(carried.mesh.visual.material.baseColorTexture).astype(int)
        print(f"backend texture {device}: carried over with a normal map in {statistics.median(seconds[1:]):.3f} s")
    if "cuda" in textures:
        diff = np.abs(textures["cpu"] - textures["cuda"])
        print(f"backend texture cuda vs cpu: mean |Δ| {diff.mean():.4f}, max {diff.max()} (of 255)")


if __name__ == "__main__":
    main()
