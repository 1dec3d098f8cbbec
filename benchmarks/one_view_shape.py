"""The built-in's one-view shape on the reference objects: F@0.1 and side silhouette IoU, per object.

    .venv/bin/python benchmarks/one_view_shape.py refset/ [--json scores.json] [--seeds 6] [--renders renders/]

``refset/`` is the quality harness's reference set (``meshmill eval refset/ --make-reference-set``). Each object's
front, left and right are rendered lit by Blender once (kept in ``--renders``, so a second run and a run of another
tree reuse them); the front goes through the cut-out, the upscale and the shape stage of the desktop preset, and the
shape is scored against the truth: F@0.1 as ``meshmill eval`` scores it, averaged over ``--seeds`` sampling seeds (one
seed's F moves by a few thousandths), and the IoU of its silhouette from the left and the right with the reference's.
No texture: the shape only, about 6 s an object on two cores. To score another revision, run this file with that
revision's tree first on the path:

    git archive 2de9b8a | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before .venv/bin/python benchmarks/one_view_shape.py refset/ --json before.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image
from skimage.draw import polygon

from inference.generators import get_generator
from inference.params import GenerationParams
from inference.pipeline import clean_views, make_shape, upscale_views
from inference.quality.blender import render_with_blender
from inference.quality.evaluation import _align_to, surface_scores
from inference.views import VIEW_AXES

SIZE = 256
VIEWS = ("front", "left", "right")


def reference(obj: Path, renders: Path) -> tuple[trimesh.Trimesh, float, dict[str, np.ndarray]]:
    """The truth, the half extent the harness frames it with, and its lit renders (made once, then read back)."""
    truth = trimesh.load(obj, force="mesh", process=False)
    half = 1.05 * float(np.abs(truth.bounds).max())
    kept = renders / f"{obj.stem}.npz"
    if not kept.is_file():
        made = render_with_blender(obj, VIEWS, size=SIZE, half_extent=half, modes=("lit",))
        renders.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(kept, **{view: made[("lit", view)] for view in VIEWS})
    return truth, half, dict(np.load(kept))


def silhouette(mesh: trimesh.Trimesh, view: str, half: float) -> np.ndarray:
    """The mesh's orthographic silhouette from ``view``, framed like the harness's renders."""
    right = VIEW_AXES[view][0]
    across = sum(mesh.vertices[:, axis] * sign for axis, sign in enumerate(right) if sign)
    columns = (across / half + 1.0) * 0.5 * SIZE
    rows = (1.0 - mesh.vertices[:, 1] / half) * 0.5 * SIZE
    image = np.zeros((SIZE, SIZE), bool)
    for face in mesh.faces:
        image[polygon(rows[face], columns[face], (SIZE, SIZE))] = True
    return image


def score(obj: Path, renders: Path, seeds: int) -> dict[str, float]:
    params = GenerationParams.resolve("desktop")
    truth, half, images = reference(obj, renders)
    views = upscale_views(clean_views({"front": Image.fromarray(images["front"], "RGBA")}, params), params)
    mesh = make_shape(views, params, get_generator(params.backend)).mesh
    placed = _align_to(mesh, truth)
    ious = []
    for view in ("left", "right"):
        ours, theirs = silhouette(placed, view, half), images[view][..., 3] > 127
        ious.append((ours & theirs).sum() / (ours | theirs).sum())
    return {
        "f@0.1": float(np.mean([surface_scores(mesh, truth, seed=seed)["f@0.1"] for seed in range(seeds)])),
        "side_iou": float(np.mean(ious)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("refset", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--renders", type=Path, default=Path("one-view-renders"))
    args = parser.parse_args()
    scores = {}
    for obj in sorted(args.refset.rglob("*.obj")):
        scores[obj.stem] = score(obj, args.renders, args.seeds)
        print(f"{obj.stem:16s} F@0.1 {scores[obj.stem]['f@0.1']:.3f}  side IoU {scores[obj.stem]['side_iou']:.3f}", flush=True)
    means = {key: float(np.mean([s[key] for s in scores.values()])) for key in ("f@0.1", "side_iou")}
    print(f"{'mean':16s} F@0.1 {means['f@0.1']:.3f}  side IoU {means['side_iou']:.3f}")
    if args.json:
        args.json.write_text(json.dumps({"objects": scores, "mean": means}, indent=1))


if __name__ == "__main__":
    main()
