"""The quality harness: render real meshes into views, reconstruct them, and score the result.

Per object: render the ground truth into the four orthographic views (and a 3/4 perspective view,
kept for looking at), reconstruct from the front view alone and from all four, and score:

- Chamfer distance (mean of both directions' nearest-neighbour distances) and F-score at
  τ = 0.05 and 0.1, on 20,000 points sampled from each surface after centring each mesh at its
  bounding-box centre and scaling it so the larger of its X and Y extents is 2;
- PSNR of our textured result re-rendered from each of the four sides, over the ground truth's silhouette
  there (our render laid over grey, so a hole counts), whatever views it was made from: ``psnr_<view>``
  unlit against the unlit truth (base colours as they are) and ``psnr_lit_<view>`` lit like the truth (as an
  engine lights a base colour: a texture that kept the views' light shows it twice); and the silhouettes'
  intersection over union per side, ``iou_<view>``.

The renderer is TinyRenderer (pybullet, quick, the tests' choice) or Blender's Cycles (``renderer="blender"``,
a renderer nobody here wrote, lit by a sun that turns with the camera plus a grey world: what a studio sees).

Baselines on the same inputs: the front silhouette extruded to a slab (depth half its smaller
extent), an ellipsoid fitted to the front silhouette, and the plain four-view visual hull.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image
from scipy.spatial import cKDTree
from skimage.measure import marching_cubes

from inference.mesh.export import write_obj
from inference.params import GenerationParams
from inference.pipeline import generate_asset
from inference.quality.render import render_views

#: Textured and untextured meshes that ship in pybullet_data: (name, file, texture, up axis, yaw°).
#: Yaw turns the object about +Y so its most characteristic side faces the front camera.
REFERENCE_SET = [
    ("duck", "duck.obj", "duckCM.png", "y", 90),
    ("mug", "objects/mug.obj", None, "z", 0),
    ("soccer_ball", "soccerball.obj", None, "y", 0),
    ("ring_toy", "torus/torus_textured.obj", "cube.png", "z", 0),
    ("teddy", "teddy2_VHACD_CHs.obj", None, "y", 0),
    ("lego_brick", "lego/lego.obj", None, "y", 0),
    ("sphere", "textured_sphere_smooth.obj", None, "y", 0),
    ("blob_000", "random_urdfs/000/000.obj", None, "z", 0),
    ("blob_001", "random_urdfs/001/001.obj", None, "z", 0),
    ("blob_002", "random_urdfs/002/002.obj", None, "z", 0),
    # textured props whose sides differ: a robot's printed trunks, a domino (dots in front, black behind),
    # a block labelled on every side
    ("a1_trunk", "a1/meshes/trunk.obj", "a1/meshes/trunk_A1.png", "z", 0),
    ("aliengo_trunk", "aliengo/meshes/trunk.obj", "aliengo/meshes/aliengo.png", "z", 0),
    ("laikago", "laikago/chassis_zup.obj", "laikago/laikago_tex.jpg", "z", 0),
    ("domino", "domino/domino.obj", "domino/domino.jpg", "z", 0),
    ("jenga", "jenga/jenga.obj", "jenga/jenga.png", "z", 0),
]
VIEWS = ("front", "left", "back", "right")
TAUS = (0.05, 0.1)
N_POINTS = 20_000


def normalise(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """Centre at the bounding-box centre; scale so the larger of the X and Y extents is 2."""
    mesh = mesh.copy()
    lo, hi = mesh.bounds
    mesh.apply_translation(-(lo + hi) / 2)
    mesh.apply_scale(2.0 / max(hi[0] - lo[0], hi[1] - lo[1]))
    return mesh


def write_reference(name: str, source: Path, texture: Path | None, up: str, yaw: float, folder: Path) -> Path:
    """Write ``folder/name/name.obj`` (+ MTL/PNG) in our convention (+Y up, front +Z), normalised."""
    mesh = trimesh.load(source, force="mesh", process=False)
    if up == "z":
        mesh.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    if yaw:
        mesh.apply_transform(trimesh.transformations.rotation_matrix(np.radians(yaw), [0, 1, 0]))
    mesh = normalise(mesh)
    uv = getattr(mesh.visual, "uv", None)
    if texture is not None and uv is not None:
        material = trimesh.visual.material.SimpleMaterial(name=name, image=Image.open(texture).convert("RGB"))
        mesh.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    elif (
        not isinstance(getattr(mesh.visual, "material", None), trimesh.visual.material.Material)
        or getattr(mesh.visual.material, "image", None) is None
    ):
        mesh.visual = trimesh.visual.ColorVisuals()  # plain geometry: the renderer's default colour
    write_obj(mesh, folder / name, name)
    return folder / name / f"{name}.obj"


def write_reference_set(folder: Path) -> list[Path]:
    """The default evaluation set (meshes from pybullet_data), written into ``folder``."""
    import pybullet_data

    data = Path(pybullet_data.getDataPath())
    folder.mkdir(parents=True, exist_ok=True)
    return [write_reference(name, data / path, data / tex if tex else None, up, yaw, folder) for name, path, tex, up, yaw in REFERENCE_SET]


def obj_texture(obj: Path) -> Path | None:
    """The texture an OBJ's MTL names, if any (map_Kd)."""
    mtl = obj.with_suffix(".mtl")
    if not mtl.is_file():
        return None
    for line in mtl.read_text().splitlines():
        if line.strip().lower().startswith("map_kd"):
            path = obj.parent / line.split(maxsplit=1)[1].strip()
            return path if path.is_file() else None
    return None


def surface_scores(pred: trimesh.Trimesh, truth: trimesh.Trimesh, seed: int = 0) -> dict[str, float]:
    """Chamfer distance and F-scores between two meshes, each normalised (see module docstring)."""
    rng = np.random.default_rng(seed)
    pred_points = trimesh.sample.sample_surface(normalise(pred), N_POINTS, seed=int(rng.integers(1 << 31)))[0]
    true_points = trimesh.sample.sample_surface(normalise(truth), N_POINTS, seed=int(rng.integers(1 << 31)))[0]
    to_truth = cKDTree(true_points).query(pred_points)[0]
    to_pred = cKDTree(pred_points).query(true_points)[0]
    scores = {"chamfer": float(to_truth.mean() + to_pred.mean())}
    for tau in TAUS:
        precision, recall = (to_truth < tau).mean(), (to_pred < tau).mean()
        scores[f"f@{tau}"] = float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0
    return scores


def masked_psnr(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    if not mask.any():
        return float("nan")
    diff = pred[..., :3][mask].astype(np.float64) - truth[..., :3][mask].astype(np.float64)
    mse = float((diff**2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _volume_mesh(inside: np.ndarray) -> trimesh.Trimesh:
    """Mesh of a boolean [y, x, z] volume over [-1, 1]³."""
    n = inside.shape[0]
    padded = np.pad(inside.astype(np.float32), 1)
    verts, faces, _, _ = marching_cubes(padded, 0.5)
    verts = (verts - 0.5) * 2.0 / n - 1.0
    return trimesh.Trimesh(np.stack([verts[:, 1], -verts[:, 0], verts[:, 2]], 1), faces)


def baseline_meshes(front_alpha: np.ndarray, n: int = 128) -> dict[str, trimesh.Trimesh]:
    """The single-view baselines: extruded slab and fitted ellipsoid, from the front silhouette."""
    mask = np.asarray(Image.fromarray((front_alpha > 127).astype(np.uint8) * 255).resize((n, n), Image.BOX)) > 127
    ys, xs = np.nonzero(mask)
    coords = (np.arange(n) + 0.5) * 2.0 / n - 1.0
    width = (xs.max() - xs.min() + 1) * 2.0 / n
    height = (ys.max() - ys.min() + 1) * 2.0 / n
    depth = min(width, height) / 2
    slab = mask[:, :, None] & (np.abs(coords)[None, None, :] <= depth / 2)
    cy, cx = coords[ys].mean(), coords[xs].mean()
    ry, rx = height / 2, width / 2
    rz = min(rx, ry)
    Y, X, Z = np.meshgrid(coords, coords, coords, indexing="ij")
    ellipsoid = ((X - cx) / rx) ** 2 + ((-Y - -cy) / ry) ** 2 + (Z / rz) ** 2 <= 1.0
    return {"slab": _volume_mesh(slab), "ellipsoid": _volume_mesh(ellipsoid)}


@dataclass
class ObjectScores:
    name: str
    scores: dict[str, dict[str, float]]  # method -> metric -> value


RENDERERS = ("tinyrenderer", "blender")
#: a result's pixels are laid over this grey before they are compared: where the result leaves a hole in the
#: reference's silhouette, the hole counts as grey
HOLE_GREY = 128


def laid_over(image: np.ndarray, background: float) -> np.ndarray:
    """The RGB (float) of an RGBA uint8 ``image`` composited over a flat ``background`` level (0–255)."""
    alpha = image[..., 3:4].astype(np.float64) / 255
    return image[..., :3] * alpha + background * (1 - alpha)


def silhouette_psnr(pred: np.ndarray, truth: np.ndarray) -> float:
    """PSNR (dB) of ``pred`` against ``truth`` (RGBA uint8) over the truth's silhouette, ``pred`` laid over grey."""
    return masked_psnr(laid_over(pred, HOLE_GREY), truth, truth[..., 3] > 127)


def silhouette_iou(pred: np.ndarray, truth: np.ndarray) -> float:
    a, b = pred[..., 3] > 127, truth[..., 3] > 127
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else float("nan")


def render_object(obj: Path, renderer: str, *, size: int, half_extent: float) -> dict[tuple[str, str], np.ndarray]:
    """{(mode, view): RGBA} of an OBJ in all four views, ``lit`` and ``unlit``, by the named renderer."""
    if renderer == "blender":
        from inference.quality.blender import render_with_blender

        return render_with_blender(obj, VIEWS, size=size, half_extent=half_extent)
    texture = obj_texture(obj)
    return {
        (mode, view): image
        for mode in ("lit", "unlit")
        for view, image in render_views(obj, VIEWS, size=size, half_extent=half_extent, lit=mode == "lit", texture=texture).items()
    }


def contact_sheet(rows: dict[str, dict[tuple[str, str], np.ndarray]], path: Path, mode: str = "lit") -> Path:
    """One PNG: a row per entry of ``rows`` (reference, then results), the four views across, on white."""
    tiles = [
        np.concatenate([laid_over(renders[(mode, view)], 255).astype(np.uint8) for view in VIEWS], axis=1) for renders in rows.values()
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(tiles, axis=0)).save(path)
    return path


def evaluate_object(
    obj: Path,
    size: int = 512,
    params: GenerationParams | None = None,
    *,
    renderer: str = "tinyrenderer",
    methods: tuple[str, ...] = ("single", "four", "baselines"),
    sheet: Path | None = None,
) -> ObjectScores:
    """Score single-view, four-view and the baselines on one ground-truth OBJ (glTF convention).

    The views are rendered lit by ``renderer``; each result is re-rendered from all four sides, lit and
    unlit, and scored per side (``psnr_<view>`` unlit, ``psnr_lit_<view>``, ``iou_<view>``). ``sheet``: write
    a contact sheet there (the reference's lit sides, then each result's).
    """
    if renderer not in RENDERERS:
        raise ValueError(f"renderer {renderer!r}: choose one of {', '.join(RENDERERS)}")
    params = params or GenerationParams.resolve("desktop")
    truth = trimesh.load(obj, force="mesh", process=False)
    half = 1.05 * float(np.abs(truth.bounds).max())
    renders = render_object(obj, renderer, size=size, half_extent=half)
    images = {view: Image.fromarray(renders[("lit", view)], "RGBA") for view in VIEWS}
    scores: dict[str, dict[str, float]] = {}
    sheet_rows = {"reference": renders}
    with tempfile.TemporaryDirectory() as tmp:
        for method, views in (("single", ("front",)), ("four", VIEWS)):
            if method not in methods:
                continue
            asset = generate_asset({v: images[v] for v in views}, params, name=method)
            scores[method] = surface_scores(asset.mesh, truth)
            scores[method]["texture_coverage"] = asset.texture_coverage
            # re-render our result from the same cameras, in the ground truth's frame
            out = write_obj(_align_to(asset.mesh, truth), Path(tmp) / method, method)[0]
            again = render_object(out, renderer, size=size, half_extent=half)
            sheet_rows[method] = again
            for view in VIEWS:
                scores[method][f"psnr_{view}"] = silhouette_psnr(again[("unlit", view)], renders[("unlit", view)])
                scores[method][f"psnr_lit_{view}"] = silhouette_psnr(again[("lit", view)], renders[("lit", view)])
                scores[method][f"iou_{view}"] = silhouette_iou(again[("lit", view)], renders[("lit", view)])
        if "baselines" in methods:
            hull_params = params.model_copy(update={"guidance": 0.0})
            hull = generate_asset(images, hull_params, name="hull")
            scores["visual_hull"] = surface_scores(hull.mesh, truth)
            for name, mesh in baseline_meshes(renders[("lit", "front")][..., 3]).items():
                scores[name] = surface_scores(mesh, truth)
    if sheet is not None:
        contact_sheet(sheet_rows, sheet)
    return ObjectScores(obj.stem, scores)


def _align_to(mesh: trimesh.Trimesh, truth: trimesh.Trimesh) -> trimesh.Trimesh:
    """Our mesh moved into the ground truth's frame: same bounding-box centre and X/Y scale."""
    placed = mesh.copy()
    lo, hi = placed.bounds
    tlo, thi = truth.bounds
    placed.apply_translation(-(lo + hi) / 2)
    placed.apply_scale(max(thi[0] - tlo[0], thi[1] - tlo[1]) / max(hi[0] - lo[0], hi[1] - lo[1]))
    placed.apply_translation((tlo + thi) / 2)
    return placed


def summarise(results: list[ObjectScores]) -> dict[str, dict[str, float]]:
    """Mean of every metric per method over the objects."""
    means: dict[str, dict[str, list[float]]] = {}
    for result in results:
        for method, metrics in result.scores.items():
            for metric, value in metrics.items():
                means.setdefault(method, {}).setdefault(metric, []).append(value)
    return {m: {k: float(np.nanmean(v)) for k, v in metrics.items()} for m, metrics in means.items()}


def to_json(results: list[ObjectScores]) -> str:
    return json.dumps({"objects": {r.name: r.scores for r in results}, "mean": summarise(results)}, indent=2)
