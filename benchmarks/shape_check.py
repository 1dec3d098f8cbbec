"""The built-in's one-view shape with and without reading cross-sections from the picture, side by side.

    .venv/bin/python benchmarks/shape_check.py [--runs 5] [--preset desktop] [--device cpu]

Renders a lit box and a lit can (pybullet's renderer), then prints, per picture: the share of the silhouette read
as square, and the shape stage's seconds (median after a warm-up) with the cross-section read from the picture and
with every slice round (the built-in before it read them), in one run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import trimesh
from PIL import Image

from inference.generators import builtin
from inference.generators.cross_section import squareness
from inference.params import GenerationParams
from inference.quality.render import render_mesh
from inference.views import frame_views


def pictures(folder: Path) -> dict[str, Image.Image]:
    box = trimesh.creation.box(extents=(1.2, 1.0, 1.0))
    box.unmerge_vertices()
    upright = trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0])
    can = trimesh.creation.cylinder(radius=0.6, height=1.0, sections=96, transform=upright)
    images = {}
    for name, mesh in (("box", box), ("can", can)):
        mesh.export(folder / f"{name}.obj")
        images[name] = Image.fromarray(render_mesh(folder / f"{name}.obj", (0.0, 0.0, 1.0), size=1024), "RGBA")
    return images


def seconds(views, params: GenerationParams, device: torch.device, runs: int) -> float:  # noqa: ANN001
    builtin.generate_shape(views, params, device)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        builtin.generate_shape(views, params, device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--preset", default="desktop")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    params = GenerationParams.resolve(args.preset)
    with tempfile.TemporaryDirectory() as tmp:
        images = pictures(Path(tmp))
    read = builtin.BOX_EXPONENT
    for name, image in images.items():
        views = frame_views({"front": image}, 1024)
        rgba = torch.from_numpy(np.asarray(image, np.float32) / 255)
        mask = rgba[..., 3] > 0.5
        square = float(squareness(rgba[..., :3], mask)[mask].mean())
        builtin.BOX_EXPONENT = read
        with_reading = seconds(views, params, device, args.runs)
        builtin.BOX_EXPONENT = 0.0  # below the round exponent: every slice stays round, nothing is read
        round_only = seconds(views, params, device, args.runs)
        builtin.BOX_EXPONENT = read
        print(
            f"{name}: {square:.2f} square; shape {with_reading:.3f} s read from the picture, "
            f"{round_only:.3f} s all round ({args.preset}, {device})"
        )


if __name__ == "__main__":
    main()
