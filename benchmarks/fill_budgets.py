"""Does the colour of the surface no view sees depend on the face budget? One view, the same shape decimated to
several budgets, the mean base colour of its back and of its sides from each.

    .venv/bin/python benchmarks/fill_budgets.py refset/ [--budgets 5000,20000,40000] [--renders one-view-renders/]

``refset/`` is the quality harness's reference set; each object's front is its Blender render (made once and kept in
``--renders``, shared with ``benchmarks/one_view_shape.py``). The asset is made at the desktop preset with only
``target_faces`` changed, so the shape field and the views are the same and only the triangulation differs. The back
is the surface facing away from the camera (normal's z below −0.6), the sides the surface facing left or right (|x|
above 0.6), sampled by area. A fill that belongs to the surface gives every budget the same colour; the figure per
object is the largest distance of one budget's mean from the budgets' mean (0–1, any channel).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.one_view_shape import reference  # noqa: E402
from inference.params import GenerationParams  # noqa: E402
from inference.pipeline import generate_asset  # noqa: E402

REGIONS = {"back": lambda n: n[:, 2] < -0.6, "sides": lambda n: np.abs(n[:, 0]) > 0.6}


def region_colours(mesh: trimesh.Trimesh, samples: int = 60_000) -> dict[str, np.ndarray]:
    """The mean base colour (RGB, 0–1) of each region of a textured mesh, over points sampled by area."""
    points, face = trimesh.sample.sample_surface(mesh, samples, seed=0)
    bary = trimesh.triangles.points_to_barycentric(mesh.triangles[face], points)
    uv = (mesh.visual.uv[mesh.faces[face]] * bary[:, :, None]).sum(axis=1)
    texture = np.asarray(mesh.visual.material.baseColorTexture.convert("RGB"), np.float64) / 255
    rows = np.clip(((1 - uv[:, 1]) * texture.shape[0]).astype(int), 0, texture.shape[0] - 1)
    cols = np.clip((uv[:, 0] * texture.shape[1]).astype(int), 0, texture.shape[1] - 1)
    colour, normal = texture[rows, cols], mesh.face_normals[face]
    return {name: colour[chosen(normal)].mean(axis=0) for name, chosen in REGIONS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("refset", type=Path)
    parser.add_argument("--budgets", default="5000,20000,40000")
    parser.add_argument("--renders", type=Path, default=Path("one-view-renders"))
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    worst = {name: [] for name in REGIONS}
    print(f"{'object':16s} {'region':6s} " + " ".join(f"{b:>15d}" for b in budgets) + "   largest deviation")
    for obj in sorted(args.refset.rglob("*.obj")):
        front = Image.fromarray(reference(obj, args.renders)[2]["front"], "RGBA")
        colours = {}
        for budget in budgets:
            asset = generate_asset({"front": front}, GenerationParams.resolve("desktop", target_faces=budget), device="cpu")
            colours[budget] = region_colours(asset.mesh)
        for name in REGIONS:
            means = np.array([colours[b][name] for b in budgets])
            deviation = float(np.abs(means - means.mean(axis=0)).max())
            worst[name].append(deviation)
            cells = " ".join("/".join(f"{v:.2f}" for v in colours[b][name]) for b in budgets)
            print(f"{obj.stem:16s} {name:6s} {cells}   {deviation:.3f}", flush=True)
    for name, deviations in worst.items():
        print(f"{name}: mean largest deviation {np.mean(deviations):.3f}, worst {np.max(deviations):.3f}")


if __name__ == "__main__":
    main()
