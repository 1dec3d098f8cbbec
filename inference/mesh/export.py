"""Textured meshes out: GLB (glTF 2.0 binary, PBR metallic-roughness) and OBJ + MTL + PNG."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image
from trimesh.visual.material import PBRMaterial

from inference.mesh.audit import attribute_problems
from inference.mesh.cleanup import MeshError
from inference.mesh.uv import UnwrappedMesh

ROUGHNESS = 0.8  # matte: style-model renders carry their lighting in the colours already
PNG_LEVEL = 3  # zlib level for the texture: level 6 (trimesh's default) costs ~3× the time for ~5 % size
JPEG_QUALITY = 90  # at 4096²: 0.07 s and 0.8 MB against PNG's 0.7 s and 2.9 MB (README, "Generation speed")
WEBP_QUALITY = 90


def checked_attributes(mesh: UnwrappedMesh, normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The normals and UVs as a file stores them — normals of unit length in float32, UVs clamped to
    [0, 1] where xatlas rounds a hair outside — checked as a validator would (``audit``). Raises
    ``MeshError`` rather than write a file a validating importer would reject."""
    normals = np.asarray(normals, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = (normals / np.linalg.norm(normals, axis=1, keepdims=True)).astype(np.float32)
    uvs = np.asarray(mesh.uvs, np.float64).clip(0.0, 1.0)  # NaN stays NaN, and is reported
    problems = attribute_problems(np.asarray(mesh.vertices), unit, uvs)
    if problems:
        raise MeshError(f"the textured mesh cannot be written: {'; '.join(problems)}")
    return unit, uvs


def encoded_texture(texture: np.ndarray, texture_format: str = "png") -> Image.Image:
    """The texture as the image trimesh embeds: a PNG at ``PNG_LEVEL``, or a picture decoded from JPEG
    bytes (trimesh embeds a JPEG as it is), or one it will save as WebP (``glb_bytes`` declares EXT_texture_webp)."""
    image = Image.fromarray(texture, "RGB")
    if texture_format == "jpeg":
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
        return Image.open(io.BytesIO(buffer.getvalue()))
    image.encoderinfo = {"compress_level": PNG_LEVEL} if texture_format == "png" else {"quality": WEBP_QUALITY}  # read by Pillow
    return image


def textured_mesh(
    mesh: UnwrappedMesh, normals: np.ndarray, texture: np.ndarray, name: str = "meshmill", texture_format: str = "png"
) -> trimesh.Trimesh:
    """A trimesh with UVs, unit normals (``cleanup.unit_vertex_normals``) and a PBR material: base-colour
    texture (encoded as ``texture_format``: png, jpeg or webp), metallic 0."""
    unit, uvs = checked_attributes(mesh, normals)
    image = encoded_texture(texture, texture_format)
    material = PBRMaterial(
        name=f"{name}_material",
        baseColorTexture=image,
        baseColorFactor=[255, 255, 255, 255],
        metallicFactor=0.0,
        roughnessFactor=ROUGHNESS,
        doubleSided=False,
    )
    result = trimesh.Trimesh(
        vertices=mesh.vertices,
        faces=mesh.faces,
        vertex_normals=unit,
        visual=trimesh.visual.TextureVisuals(uv=uvs, material=material),
        process=False,
    )
    result.metadata["name"] = name
    result.metadata["texture_format"] = texture_format
    return result


def glb_bytes(mesh: trimesh.Trimesh) -> bytes:
    """The GLB; a WebP texture is declared with EXT_texture_webp."""
    webp = mesh.metadata.get("texture_format") == "webp"
    return mesh.export(file_type="glb", include_normals=True, extension_webp=webp)


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
