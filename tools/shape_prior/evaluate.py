"""Score the shape prior against the silhouette generator on the held-out objects (issue 16's bar).

    python -m tools.shape_prior.evaluate prior.safetensors prior-data/heldout --objects 40

Each object (OBJ, +Y up) is rendered with pybullet's TinyRenderer, as ``meshmill eval`` renders its
references: from the front (orthographic) and from a three-quarter pose (35° round, 20° above, a 35° field
of view). Shapes are made from each picture by the built-in generator's silhouette method and by the prior
(carved with the pose known), and scored by F@0.1 against the truth in the object's frame
(``inference.quality.evaluation.surface_scores``). ``silhouette_3q`` is what a user gets today from a
three-quarter picture (the shape in the picture's frame); ``silhouette_3q_posed`` is that shape turned into the
object's frame by the same known pose, so that the prior is also compared with a silhouette given the pose.
The objects are the first ``--objects`` of the held-out folder in the order of their names' SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import warnings
from pathlib import Path

import numpy as np
import torch
import trimesh
from PIL import Image
from skimage.measure import marching_cubes

from inference.generators.builtin import generate_shape
from inference.params import GenerationParams
from inference.quality.evaluation import surface_scores
from inference.quality.render import render_mesh
from inference.views import FramedViews, frame_views
from tools.shape_prior.model import THREE_QUARTER, DepthPrior, carve, load_prior, predict_depths, view_rotation

SIZE = 256
GRID = 112
EXTENT = 1.6  # half the side of the carving grid, in picture units: room for depth beyond the picture's square


def picture(obj: Path, truth: trimesh.Trimesh, azimuth: float, elevation: float, field_of_view: float) -> np.ndarray:
    a, e = math.radians(azimuth), math.radians(elevation)
    direction = (math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e))
    half = 1.05 * float(np.abs(truth.bounds).max()) * (1.0 if field_of_view < 2 else 1.3)
    rgba = render_mesh(obj, direction, size=SIZE, half_extent=half, field_of_view=field_of_view)
    return frame_views({"front": Image.fromarray(rgba)}, SIZE).images["front"]


def prior_shape(model: DepthPrior, rgba: np.ndarray, azimuth: float, elevation: float) -> trimesh.Trimesh:
    front, back = predict_depths(model, rgba)
    mask = torch.from_numpy(rgba[..., 3] > 0.5)
    rotation = torch.from_numpy(view_rotation(azimuth, elevation)).float()
    coords = (torch.arange(GRID) + 0.5) / GRID * 2 * EXTENT - EXTENT
    z, y, x = torch.meshgrid(coords, coords, coords, indexing="ij")
    points = torch.stack([x, y, z], -1).reshape(-1, 3)  # the object's frame
    field = carve(mask, front, back, points @ rotation.T, min_thickness=2.5 * 2 * EXTENT / GRID).reshape(GRID, GRID, GRID)
    vertices, faces, _, _ = marching_cubes(np.pad(field.numpy(), 1, constant_values=-1.0), 0.0)
    vertices = (vertices - 0.5) / GRID * 2 * EXTENT - EXTENT
    return trimesh.Trimesh(vertices[:, ::-1], faces[:, ::-1])  # [z, y, x] → (x, y, z)


def silhouette_shape(rgba: np.ndarray) -> trimesh.Trimesh:
    vertices, faces = generate_shape(FramedViews({"front": rgba}), GenerationParams.resolve("desktop"))
    return trimesh.Trimesh(vertices, faces)


def score_object(model: DepthPrior, obj: Path) -> dict[str, float]:
    truth = trimesh.load(obj, force="mesh", process=False)
    azimuth, elevation = THREE_QUARTER
    front = picture(obj, truth, 0.0, 0.0, 1.0)
    quarter = picture(obj, truth, azimuth, elevation, 35.0)
    silhouette = silhouette_shape(quarter)
    posed = silhouette.copy()
    posed.vertices = silhouette.vertices @ view_rotation(azimuth, elevation)  # the picture's frame → the object's
    shapes = {
        "silhouette_front": silhouette_shape(front),
        "prior_front": prior_shape(model, front, 0.0, 0.0),
        "silhouette_3q": silhouette,
        "silhouette_3q_posed": posed,
        "prior_3q": prior_shape(model, quarter, azimuth, elevation),
    }
    return {method: surface_scores(shape, truth)["f@0.1"] for method, shape in shapes.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("heldout", type=Path, help="the folder prepare.py wrote: <name>/<name>.obj")
    parser.add_argument("--objects", type=int, default=40)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    model = load_prior(args.weights)
    objects = sorted(args.heldout.glob("*/*.obj"), key=lambda p: hashlib.sha256(p.stem.encode()).hexdigest())[: args.objects]
    scores = {}
    for obj in objects:
        try:
            scores[obj.stem] = score_object(model, obj)
        except ValueError as exc:  # no surface, an empty picture: named, and the object left out
            print(f"{obj.stem}: left out ({exc})")
            continue
        print(obj.stem, " ".join(f"{k} {v:.3f}" for k, v in scores[obj.stem].items()), flush=True)
    methods = next(iter(scores.values()))
    print(f"mean F@0.1 over {len(scores)} held-out objects:")
    for method in methods:
        print(f"  {method:22s} {np.mean([s[method] for s in scores.values()]):.3f}")


if __name__ == "__main__":
    main()
