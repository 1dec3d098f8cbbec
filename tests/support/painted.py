"""A synthetic textured surface, as a model that textures would answer: a UV sphere (its seam split, at the back)
with a base colour that differs on top, behind and on each half of the front, a metallic-roughness map (metal on top) and a
normal map that tilts every normal the same way in its tangent frame."""

from __future__ import annotations

import io

import numpy as np
import trimesh
from PIL import Image
from trimesh.visual.material import PBRMaterial

TOP, BACK = (220, 30, 30), (230, 200, 20)
FRONT_MINUS_X, FRONT_PLUS_X = (30, 60, 220), (20, 200, 200)  # the front's two halves differ: a mirrored map shows
ROUGHNESS = 0.3
TILT = (0.4, 0.0, 0.92)  # the normal map's normal in its tangent frame: leaning towards +u


def painted_sphere(rings: int = 24, segments: int = 48) -> trimesh.Trimesh:
    theta = np.linspace(0.0, np.pi, rings + 1)  # from the top
    phi = np.linspace(-np.pi, np.pi, segments + 1)  # 0 faces +Z (the front); the seam is behind, its vertices doubled
    t, p = np.meshgrid(theta, phi, indexing="ij")
    vertices = np.stack([np.sin(t) * np.sin(p), np.cos(t), np.sin(t) * np.cos(p)], axis=-1).reshape(-1, 3) * 0.8
    uvs = np.stack([(p + np.pi) / (2 * np.pi), 1.0 - t / np.pi], axis=-1).reshape(-1, 2)
    index = np.arange((rings + 1) * (segments + 1)).reshape(rings + 1, segments + 1)
    a, b, c, d = index[:-1, :-1], index[:-1, 1:], index[1:, :-1], index[1:, 1:]
    faces = np.concatenate([np.stack([a, c, b], -1)[1:].reshape(-1, 3), np.stack([b, c, d], -1)[:-1].reshape(-1, 3)])
    material = PBRMaterial(
        baseColorTexture=Image.fromarray(_base_colour(), "RGB"),
        metallicRoughnessTexture=Image.fromarray(_metallic_roughness(), "RGB"),
        normalTexture=Image.fromarray(_normal(), "RGB"),
        metallicFactor=1.0,
        roughnessFactor=1.0,
    )
    return trimesh.Trimesh(vertices, faces, visual=trimesh.visual.TextureVisuals(uv=uvs, material=material), process=False)


def painted_glb(textured: bool = True) -> bytes:
    mesh = painted_sphere()
    if not textured:
        mesh = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    out = io.BytesIO()
    mesh.export(out, file_type="glb")
    return out.getvalue()


def _base_colour(size: int = 64) -> np.ndarray:
    image = np.empty((size, size, 3), np.uint8)
    image[:] = BACK
    image[:, size // 4 : size // 2] = FRONT_MINUS_X  # u 0.25–0.5: facing +Z, on the -X side
    image[:, size // 2 : 3 * size // 4] = FRONT_PLUS_X
    image[: size // 2] = TOP  # rows are v from the top: the upper half
    return image


def _metallic_roughness(size: int = 64) -> np.ndarray:
    image = np.zeros((size, size, 3), np.uint8)
    image[..., 1] = round(ROUGHNESS * 255)
    image[: size // 2, :, 2] = 255  # metal on top
    return image


def _normal(size: int = 64) -> np.ndarray:
    tilt = np.asarray(TILT) / np.linalg.norm(TILT)
    return np.broadcast_to(np.round((tilt + 1) / 2 * 255).astype(np.uint8), (size, size, 3)).copy()
