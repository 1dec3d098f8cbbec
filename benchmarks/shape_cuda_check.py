"""The built-in's shape on CUDA against the CPU, on a GPU machine: the same occupancy, and each one's time.

    python benchmarks/shape_cuda_check.py

Draws a shaded box and a shaded can (each with a dark printed mark, which the cross-section reader must not
take for shading), from one view and from four, and prints per case: the share of the volume filled, the
share of voxels that CPU and CUDA disagree on, the largest difference of the occupancy field, and the shape
stage's seconds on each (CUDA: mean of 5 after a warm-up; CPU: mean of 3). The cross-section reader
(``inference.generators.cross_section``) runs on the device the shape is made on, so this is its CUDA check.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from PIL import Image

from inference.generators import builtin
from inference.params import GenerationParams
from inference.views import frame_views

SIDE = 512


def picture(kind: str) -> Image.Image:
    yy, xx = np.mgrid[:SIDE, :SIDE] + 0.5
    centre, radius = SIDE / 2, SIDE * 0.3
    inside = (abs(xx - centre) < radius) & (abs(yy - centre) < radius * 0.8)
    shade = np.sqrt(np.clip(1 - ((xx - centre) / radius) ** 2, 0, 1)) if kind == "can" else np.ones_like(xx)
    rgba = np.zeros((SIDE, SIDE, 4), np.uint8)
    rgba[..., :3] = (np.array([150, 120, 90]) * (0.3 + 0.7 * shade[..., None])).astype(np.uint8)
    rgba[..., 3] = np.where(inside, 255, 0)
    rgba[(abs(xx - centre) < 20) & (abs(yy - centre) < 20) & inside, :3] = 20  # a printed mark
    return Image.fromarray(rgba, "RGBA")


def seconds(views, params: GenerationParams, device: torch.device, runs: int) -> float:  # noqa: ANN001
    builtin.generate_shape(views, params, device)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(runs):
        builtin.generate_shape(views, params, device)
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / runs


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: run this on a GPU machine")
    params = GenerationParams.resolve("desktop")
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    print(torch.cuda.get_device_name())
    for kind in ("box", "can"):
        for names in (("front",), ("front", "left", "back", "right")):
            views = frame_views({name: picture(kind) for name in names}, 1024)
            on_cpu = builtin.occupancy_field(views, params, cpu)
            on_cuda = builtin.occupancy_field(views, params, cuda).cpu()
            filled = (on_cpu > 0).float().mean().item()
            differ = ((on_cpu > 0) != (on_cuda > 0)).float().mean().item()
            largest = (on_cpu - on_cuda).abs().max().item()
            print(
                f"{kind}, {len(names)} view(s): filled {filled:.4f}, CPU/CUDA voxels differ {differ:.6f}, largest field difference "
                f"{largest:.2e}; shape {seconds(views, params, cuda, 5):.3f} s CUDA, {seconds(views, params, cpu, 3):.3f} s CPU"
            )


if __name__ == "__main__":
    main()
