"""Baking a base-colour texture from the framed views by projection.

For every texel: find the surface point behind it (rasterising the UV atlas), then for each view
ask whether the camera sees that point (a depth buffer of the mesh in that view) and how squarely
(the normal against the view direction). Colours are averaged with weights visibility × alpha ×
cos²; points no view sees take the colour straight through from the views (a mirror guess: the
back of a prop seen only from the front is coloured like its front). Finally every empty texel,
inside charts or in the gutters between them, takes the colour of the nearest filled texel, which
also dilates the seams so mip-maps do not bleed background in.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from inference.images.background import bleed_colours
from inference.mesh.raster import rasterize
from inference.mesh.uv import UnwrappedMesh
from inference.views import VIEW_AXES, FramedViews, project

THROUGH_WEIGHT = 1e-3  # weight of colour seen through the object, for points no view sees
VISIBILITY_TOLERANCE = 0.02  # world units: surface points this close to the nearest depth count as seen


def texel_surface(mesh: UnwrappedMesh, normals: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each covered texel: its (row, col) index, surface position and unit normal."""
    corners = np.stack([mesh.uvs[mesh.faces][..., 0] * size, (1.0 - mesh.uvs[mesh.faces][..., 1]) * size], axis=-1)
    face, bary = rasterize(corners, size, size)
    rows, cols = np.nonzero(face >= 0)
    f = face[rows, cols]
    b = bary[rows, cols].astype(np.float64)
    tri = mesh.faces[f]
    position = sum(b[:, k, None] * mesh.vertices[tri[:, k]] for k in range(3))
    normal = sum(b[:, k, None] * normals[tri[:, k]] for k in range(3))
    normal /= np.linalg.norm(normal, axis=1, keepdims=True).clip(min=1e-12)
    return np.stack([rows, cols], axis=1), position, normal


def view_depth(vertices: np.ndarray, faces: np.ndarray, view: str, size: int) -> np.ndarray:
    """Depth buffer of the mesh in a view: the largest 'toward the camera' coordinate per pixel (-inf where empty)."""
    px, py, toward = project(vertices, view, size)
    corners = np.stack([px, py], axis=1)[faces]
    face, bary = rasterize(corners, size, size, depth=-toward[faces])
    depth = np.full((size, size), -np.inf)
    hit = face >= 0
    depth[hit] = (bary[hit] * toward[faces[face[hit]]]).sum(axis=1)
    return depth


def _sample(image: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Bilinear samples (N, C) of an H×W×C float image at continuous pixel coordinates."""
    h, w, _ = image.shape
    grid = torch.from_numpy(np.stack([px / w * 2 - 1, py / h * 2 - 1], axis=1).astype(np.float32))[None, None]
    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))[None]
    out = F.grid_sample(tensor, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[0, :, 0].T.numpy()


def bake_texture(mesh: UnwrappedMesh, normals: np.ndarray, views: FramedViews, size: int) -> tuple[np.ndarray, float]:
    """An RGB uint8 texture (size × size) and the fraction of surface texels some view saw."""
    index, position, normal = texel_surface(mesh, normals, size)
    colour_sum = np.zeros((len(position), 3))
    weight_sum = np.zeros(len(position))
    seen = np.zeros(len(position), bool)
    for name, image in views.images.items():
        image = bleed_colours(image)
        s = image.shape[0]
        px, py, toward = project(position, name, s)
        depth = view_depth(mesh.vertices, mesh.faces, name, s)
        pixel_x = np.clip(px.astype(int), 0, s - 1)
        pixel_y = np.clip(py.astype(int), 0, s - 1)
        visible = toward >= depth[pixel_y, pixel_x] - VISIBILITY_TOLERANCE
        sample = _sample(image, px, py)
        alpha = np.clip((sample[:, 3] - 0.25) / 0.5, 0.0, 1.0)
        facing = np.clip(normal @ np.asarray(VIEW_AXES[name][1], np.float64), 0.0, 1.0) ** 2
        weight = alpha * np.where(visible, facing, THROUGH_WEIGHT)
        seen |= visible & (facing > 0.05) & (alpha > 0)
        colour_sum += weight[:, None] * sample[:, :3]
        weight_sum += weight
    texture = np.zeros((size, size, 3), np.float32)
    filled = np.zeros((size, size), bool)
    good = weight_sum > 1e-6
    texture[index[good, 0], index[good, 1]] = colour_sum[good] / weight_sum[good, None]
    filled[index[good, 0], index[good, 1]] = True
    if not filled.any():
        raise ValueError("no view colours any part of the surface")
    nearest = ndimage.distance_transform_edt(~filled, return_distances=False, return_indices=True)
    texture = texture[nearest[0], nearest[1]]
    coverage = float(seen.mean()) if len(seen) else 0.0
    return (np.clip(texture, 0, 1) * 255 + 0.5).astype(np.uint8), coverage
