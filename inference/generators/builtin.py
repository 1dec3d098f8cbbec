"""The built-in shape generator: a closed volume from one to four silhouettes, no weights needed.

Every horizontal slice of the object is modelled from the silhouettes' runs in that row:

- one view: each run of the front silhouette is the diameter of a cross-section whose depth is capped at
  the silhouette's height; round (the shape that scored best on real objects without weights) unless the
  picture shows a flat face there (``inference.generators.cross_section``: even shading across the run,
  straight sides), where it is square: a square part wider than it is tall is as deep as the geometric mean
  of its width and its own height (the rows its sides run straight through), deeper than the cap; one
  narrower than the object is tall is thinner than wide (a flat-faced thing taller than wide is mostly
  thinner than wide: a door, a bookcase, a domino);
- with a side view (left and/or right): each front run × side run rectangle holds the super-ellipse
  inscribed in it, exact for solids of revolution and far rounder than a plain visual hull; square where
  both the front and the side picture show a flat face there.

Back and right views are mirror images of front and left; they are intersected with them.

Knobs (``GenerationParams``):
- ``steps``: volume resolution, 64 + 4·steps voxels a side (at most 256): detail against time;
- ``guidance``: how round the cross-sections the picture does not show as square are: 0 gives the plain
  visual hull (box slices), 5 ellipses (the default), 10 slightly pinched super-ellipses (exponent 1.5);
- ``seed``: recorded; this generator has no random stage, so every seed gives the same mesh.

The field is computed with torch, on CUDA when available; marching cubes runs on the CPU.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from skimage.measure import marching_cubes

from inference.backends import BackendSpec
from inference.errors import EmptySurface
from inference.generators.cross_section import part_height, runs, squareness
from inference.params import GenerationParams
from inference.runtime.devices import torch_device
from inference.views import FramedViews

VERSION = "1.3"  # 1.1: cross-sections read from the pictures (square where they show a flat face); 1.2: runs to a fraction of a pixel;
# 1.3: a square part wider than tall as deep as the geometric mean of its width and height
#: the super-ellipse exponent of a slice the picture shows as square (a box with softened edges)
BOX_EXPONENT = 8.0


class BuiltinGenerator:
    """Silhouette volumes (this module's functions), on CUDA when present; no weights, nothing to load."""

    def __init__(self, spec: BackendSpec, device: str | None = None):
        self.spec = spec
        self.name = spec.name
        self.version = VERSION
        self.accepts_views = spec.views
        self.device = torch_device(device)

    def generate(self, views: FramedViews, params: GenerationParams) -> tuple[np.ndarray, np.ndarray]:
        return generate_shape(views, params, self.device)


def resolution(steps: int) -> int:
    return min(256, 64 + 4 * steps)


def exponent(guidance: float) -> float:
    """Super-ellipse exponent for a guidance value (see module docstring)."""
    if guidance <= 5.0:
        return 2.0 + 30.0 * (1.0 - guidance / 5.0) ** 2
    return 2.0 - (guidance - 5.0) / 10.0


def _resample(image: np.ndarray, size: int, device: torch.device) -> torch.Tensor:
    """An (H × W) or (H × W × C) image as floats, area-resampled to size × size (× C)."""
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).to(device)
    channels = tensor[None, None] if tensor.ndim == 2 else tensor.permute(2, 0, 1)[None]
    resampled = F.interpolate(channels, size=(size, size), mode="area")[0]
    return resampled[0] if tensor.ndim == 2 else resampled.permute(1, 2, 0)


def _resample_mask(alpha: np.ndarray, size: int, device: torch.device) -> torch.Tensor:
    return _resample(alpha, size, device) > 0.5


def _squareness(views: FramedViews, view: str, n: int, device: torch.device) -> torch.Tensor:
    """How square each slice of ``view`` reads from its picture (``cross_section.squareness``), at n × n, as the view shows it."""
    image = views.images[view]
    return squareness(_resample(image[..., :3], n, device), _resample_mask(image[..., 3], n, device))


def occupancy_field(views: FramedViews, params: GenerationParams, device: torch.device | None = None) -> torch.Tensor:
    """Signed field on an R³ grid indexed [y, x, z] over [-1, 1]³ (y from top): positive inside."""
    device = torch_device(device)
    n = resolution(params.steps)
    p = exponent(params.guidance)
    # the silhouettes' coverage at n × n (each pixel's share of the object), and the pixels more than half covered
    front_cover = _resample(views.images["front"][..., 3], n, device)
    if "back" in views.images:
        front_cover = torch.minimum(front_cover, _resample(views.images["back"][..., 3][:, ::-1], n, device))
    side_cover = None  # indexed [y, z] with z increasing
    if "left" in views.images:
        side_cover = _resample(views.images["left"][..., 3][:, ::-1], n, device)  # left's right axis is -Z
    if "right" in views.images:
        right = _resample(views.images["right"][..., 3], n, device)
        side_cover = right if side_cover is None else torch.minimum(side_cover, right)
    front = front_cover > 0.5
    side = None if side_cover is None else side_cover > 0.5
    if side is not None and not (front.any(1) & side.any(1)).any():
        side = None

    to_world = 2.0 / n  # pixel units to world units
    coords = (torch.arange(n, device=device, dtype=torch.float32) + 0.5) * to_world - 1.0
    cx, rx = runs(front, front_cover)
    cx = cx * to_world + to_world / 2 - 1.0
    rx = rx * to_world
    if side is None:
        rows = front.any(1).nonzero()
        height = (rows.max() - rows.min() + 1).item() * to_world if len(rows) else 0.0
        cz = torch.zeros_like(cx)
        rz = torch.clamp(rx, max=height / 2)
        if p < BOX_EXPONENT:  # square where the picture shows a flat face with straight sides
            square = _squareness(views, "front", n, device)
            p = p + (BOX_EXPONENT - p) * square[:, :, None]
            # a flat-faced part wider than it is tall: as deep as the geometric mean of its width and its own height
            deep = torch.minimum(rx, torch.sqrt(rx * part_height(front) * to_world / 2))
            rz = rz + square * (deep - rz).clamp(min=0.0)
            slab = (2.0 * rx / max(height, 1e-6)).clamp(max=1.0)  # width over height, at most 1
            rz = rz * (1.0 - square * (1.0 - slab))
        tz = (coords[None, None, :] - cz[:, :, None]).abs() / rz.clamp(min=1e-6)[:, :, None]
        inside = front[:, :, None]
    else:
        cz, rz = runs(side, side_cover)
        cz = cz * to_world + to_world / 2 - 1.0
        rz = rz * to_world
        tz = (coords[None, None, :] - cz[:, None, :]).abs() / rz.clamp(min=1e-6)[:, None, :]
        inside = front[:, :, None] & side[:, None, :]
        if p < BOX_EXPONENT:  # square where the front and a side both show a flat face
            side_square = (
                _squareness(views, "left", n, device).flip(1) if "left" in views.images else _squareness(views, "right", n, device)
            )
            square = torch.minimum(_squareness(views, "front", n, device)[:, :, None], side_square[:, None, :])
            p = p + (BOX_EXPONENT - p) * square
    tx = (coords[None, :, None] - cx[:, :, None]).abs() / rx.clamp(min=1e-6)[:, :, None]
    if isinstance(p, float) and p > 20:  # box: the plain visual hull
        field = 1.0 - torch.maximum(tx, tz)
    elif isinstance(p, float) and p == 2.0:
        field = 1.0 - torch.sqrt(tx * tx + tz * tz)
    else:
        field = 1.0 - (tx**p + tz**p).clamp(max=8.0) ** (1.0 / p)
    field = torch.where(inside, field.clamp(-1.0, 1.0), torch.full_like(field, -1.0))
    return field


def generate_shape(views: FramedViews, params: GenerationParams, device: torch.device | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V×3, world coordinates, glTF frame) and faces (F×3) of a closed surface."""
    field = occupancy_field(views, params, device)
    n = field.shape[0]
    padded = F.pad(field, (1, 1, 1, 1, 1, 1), value=-1.0).cpu().numpy()
    if padded.max() <= 0:
        raise EmptySurface("builtin: the silhouettes leave no volume (the front view shows no object at this resolution)")
    verts, faces, _, _ = marching_cubes(padded, level=0.0, allow_degenerate=False)
    verts -= 1.0  # undo the padding
    to_world = 2.0 / n
    y = 1.0 - (verts[:, 0] + 0.5) * to_world
    x = (verts[:, 1] + 0.5) * to_world - 1.0
    z = (verts[:, 2] + 0.5) * to_world - 1.0
    vertices = np.stack([x, y, z], axis=1)
    # marching_cubes winds faces for an [y, x, z] grid; our (x, y, z) is a mirror of it, so flip
    return vertices.astype(np.float64), faces[:, ::-1].astype(np.int64)
