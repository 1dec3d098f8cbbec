"""A small preview render of a textured mesh (3/4 view, texture × Lambert light), no GPU or display."""

from __future__ import annotations

import io

import numpy as np
import torch
import trimesh
from PIL import Image

from inference.mesh.raster import rasterize

DIRECTION = np.array([0.8, 0.55, 1.0])  # camera: front-right, a little above
LIGHT = np.array([0.3, 0.8, 0.6])
BACKGROUND = (236, 238, 242)


def render_preview(mesh: trimesh.Trimesh, size: int = 256) -> Image.Image:
    """An RGB picture of ``mesh`` (with TextureVisuals, or plain grey) seen from the front-right."""
    forward = -DIRECTION / np.linalg.norm(DIRECTION)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    vertices = np.asarray(mesh.vertices, np.float64)
    centre = (vertices.min(0) + vertices.max(0)) / 2
    local = vertices - centre
    x, y, depth = local @ right, local @ up, -(local @ forward)
    half = 1.08 * max(np.abs(x).max(), np.abs(y).max(), 1e-9)
    px = (x / half + 1) * 0.5 * size
    py = (1 - y / half) * 0.5 * size
    faces = np.asarray(mesh.faces)
    corners = torch.from_numpy(np.stack([px, py], 1)[faces])
    face, bary = (t.numpy() for t in rasterize(corners, size, size, depth=torch.from_numpy(-depth[faces])))
    image = np.empty((size, size, 3), np.float32)
    image[:] = BACKGROUND
    hit = face >= 0
    if not hit.any():
        return Image.fromarray(image.astype(np.uint8))
    tri = faces[face[hit]]
    b = bary[hit].astype(np.float64)
    normals = sum(b[:, k, None] * mesh.vertex_normals[tri[:, k]] for k in range(3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True).clip(min=1e-12)
    light = LIGHT / np.linalg.norm(LIGHT)
    shade = 0.45 + 0.55 * np.clip(normals @ light, 0.0, 1.0)
    colour = np.full((len(tri), 3), 190.0)
    visual = mesh.visual
    texture = getattr(getattr(visual, "material", None), "baseColorTexture", None)
    if getattr(visual, "uv", None) is not None and texture is not None:
        uv = sum(b[:, k, None] * visual.uv[tri[:, k]] for k in range(3))
        pixels = np.asarray(texture.convert("RGB"), np.float32)
        th, tw, _ = pixels.shape
        tx = np.clip((uv[:, 0] * tw).astype(int), 0, tw - 1)
        ty = np.clip(((1 - uv[:, 1]) * th).astype(int), 0, th - 1)
        colour = pixels[ty, tx]
    image[hit] = colour * shade[:, None]
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def preview_png(mesh: trimesh.Trimesh, size: int = 256) -> bytes:
    buffer = io.BytesIO()
    render_preview(mesh, size).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
