"""Textured meshes out: GLB (glTF 2.0 binary, PBR metallic-roughness) and OBJ + MTL + PNG."""

from __future__ import annotations

import io
import json
import struct
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
#: trimesh writes a vertex attribute only under an application-specific name (a leading underscore);
#: ``glb_bytes`` renames this one to glTF's own TANGENT
TANGENT_ATTRIBUTE = "_TANGENT"


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
    mesh: UnwrappedMesh,
    normals: np.ndarray,
    texture: np.ndarray,
    name: str = "meshmill",
    texture_format: str = "png",
    normal_texture: np.ndarray | None = None,
    tangents: np.ndarray | None = None,
) -> trimesh.Trimesh:
    """A trimesh with UVs, unit normals (``cleanup.unit_vertex_normals``) and a PBR material: base-colour
    texture (encoded as ``texture_format``: png, jpeg or webp), metallic 0, and the tangent-space normal
    map when there is one (``normal_map``; PNG whatever the colour's format, or WebP in a WebP file: a
    lossy JPEG's blocks would show as dents) with the tangents it was baked in (``normal_map.vertex_tangents``,
    (V, 4)), which the GLB stores as TANGENT so that no client has to guess them."""
    unit, uvs = checked_attributes(mesh, normals)
    image = encoded_texture(texture, texture_format)
    bumps = None if normal_texture is None else encoded_texture(normal_texture, "webp" if texture_format == "webp" else "png")
    material = PBRMaterial(
        name=f"{name}_material",
        baseColorTexture=image,
        normalTexture=bumps,
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
    if tangents is not None:
        result.vertex_attributes[TANGENT_ATTRIBUTE] = np.asarray(tangents, np.float32)
    result.metadata["name"] = name
    result.metadata["texture_format"] = texture_format
    return result


def glb_bytes(mesh: trimesh.Trimesh) -> bytes:
    """The GLB; a WebP texture is declared with EXT_texture_webp."""
    webp = mesh.metadata.get("texture_format") == "webp"
    glb = mesh.export(file_type="glb", include_normals=True, extension_webp=webp)
    return _named_tangents(glb) if TANGENT_ATTRIBUTE in mesh.vertex_attributes else glb


def _named_tangents(glb: bytes) -> bytes:
    """The GLB with its tangents' attribute renamed from ``TANGENT_ATTRIBUTE`` to TANGENT (the JSON chunk
    rewritten and re-padded, the binary chunk as it was)."""
    json_length = struct.unpack_from("<I", glb, 12)[0]
    document = json.loads(glb[20 : 20 + json_length])
    for mesh in document.get("meshes", []):
        for primitive in mesh["primitives"]:
            attributes = primitive["attributes"]
            if TANGENT_ATTRIBUTE in attributes:
                attributes["TANGENT"] = attributes.pop(TANGENT_ATTRIBUTE)
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    rest = glb[20 + json_length :]
    head = struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(text) + len(rest)) + struct.pack("<I4s", len(text), b"JSON")
    return head + text + rest


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
    """The OBJ, its MTL and its textures as {file name: bytes}. A normal map is written beside the colour
    and named in the MTL twice: ``norm`` (the MTL extension for PBR) and ``map_Bump -bm 1`` (what Blender's
    and most importers read as a tangent-space normal map)."""
    obj_text, extra = trimesh.exchange.obj.export_obj(
        mesh, include_normals=True, include_texture=True, return_texture=True, mtl_name=f"{stem}.mtl"
    )
    files = {f"{stem}.obj": obj_text.encode()}
    files.update(extra)
    bumps = getattr(getattr(mesh.visual, "material", None), "normalTexture", None)
    if bumps is not None:
        name = f"{stem}_normal.png"
        buffer = io.BytesIO()
        bumps.save(buffer, format="PNG", compress_level=PNG_LEVEL)
        files[name] = buffer.getvalue()
        files[f"{stem}.mtl"] = files[f"{stem}.mtl"].rstrip(b"\n") + f"\nnorm {name}\nmap_Bump -bm 1 {name}\n".encode()
    return files
