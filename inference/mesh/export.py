"""Textured meshes out: GLB (glTF 2.0 binary, PBR metallic-roughness) and OBJ + MTL + PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from PIL import Image
from trimesh.visual.material import PBRMaterial

from inference.mesh.uv import UnwrappedMesh

ROUGHNESS = 0.8  # matte: style-model renders carry their lighting in the colours already
PNG_LEVEL = 3  # zlib level for the texture: level 6 (trimesh's default) costs ~3× the time for ~5 % size


def textured_mesh(mesh: UnwrappedMesh, normals: np.ndarray, texture: np.ndarray, name: str = "meshmill") -> trimesh.Trimesh:
    """A trimesh with UVs, unit normals and a PBR material: base-colour texture, metallic 0."""
    image = Image.fromarray(texture, "RGB")
    image.encoderinfo = {"compress_level": PNG_LEVEL}  # read by Pillow when trimesh saves the PNG
    material = PBRMaterial(
        name=f"{name}_material",
        baseColorTexture=image,
        baseColorFactor=[255, 255, 255, 255],
        metallicFactor=0.0,
        roughnessFactor=ROUGHNESS,
        doubleSided=False,
    )
    unit = normals / np.linalg.norm(normals, axis=1, keepdims=True).clip(min=1e-12)
    result = trimesh.Trimesh(
        vertices=mesh.vertices,
        faces=mesh.faces,
        vertex_normals=unit,
        visual=trimesh.visual.TextureVisuals(uv=mesh.uvs, material=material),
        process=False,
    )
    result.metadata["name"] = name
    return result


def glb_bytes(mesh: trimesh.Trimesh) -> bytes:
    return mesh.export(file_type="glb", include_normals=True)


def write_obj(mesh: trimesh.Trimesh, folder: Path, stem: str) -> list[Path]:
    """``stem.obj``, ``stem.mtl`` and the texture PNG in ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    files = obj_files(mesh, stem)
    paths = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def obj_files(mesh: trimesh.Trimesh, stem: str) -> dict[str, bytes]:
    """The OBJ, its MTL and its texture as {file name: bytes}."""
    obj_text, extra = trimesh.exchange.obj.export_obj(
        mesh, include_normals=True, include_texture=True, return_texture=True, mtl_name=f"{stem}.mtl"
    )
    files = {f"{stem}.obj": obj_text.encode()}
    files.update(extra)
    return files
