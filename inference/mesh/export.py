"""Textured meshes out: GLB (glTF 2.0 binary, PBR metallic-roughness) and OBJ + MTL + PNG."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image
from trimesh.visual.material import PBRMaterial

from inference.mesh.audit import attribute_problems
from inference.mesh.cleanup import MeshError
from inference.mesh.uv import UnwrappedMesh

ROUGHNESS = 0.8  # matte: no view tells how glossy the object is, and a shiny highlight on a guess looks worse than none
PNG_LEVEL = 3  # zlib level for the texture: level 6 (trimesh's default) costs ~3× the time for ~5 % size
JPEG_QUALITY = 90  # at 4096²: 0.07 s and 0.8 MB against PNG's 0.7 s and 2.9 MB (docs/benchmarks.md, "Generation speed")
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


def pbr_material(
    texture: np.ndarray,
    name: str = "meshmill",
    texture_format: str = "png",
    normal_texture: np.ndarray | None = None,
    metallic_roughness: np.ndarray | None = None,
    metallic: float = 0.0,
    roughness: float = ROUGHNESS,
) -> PBRMaterial:
    """The PBR material: base-colour texture (encoded as ``texture_format``: png, jpeg or webp), the tangent-space
    normal map and the metallic-roughness texture (glTF's channels: roughness green, metallic blue) where there
    are, each lossless (PNG, or WebP in a WebP file: a lossy JPEG's blocks would show as dents), and the metallic
    and roughness factors (1 where the texture holds the values)."""
    lossless = "webp" if texture_format == "webp" else "png"
    bumps = None if normal_texture is None else encoded_texture(normal_texture, lossless)
    surface = None if metallic_roughness is None else encoded_texture(metallic_roughness, lossless)
    return PBRMaterial(
        name=f"{name}_material",
        baseColorTexture=encoded_texture(texture, texture_format),
        normalTexture=bumps,
        metallicRoughnessTexture=surface,
        baseColorFactor=[255, 255, 255, 255],
        metallicFactor=metallic,
        roughnessFactor=roughness,
        doubleSided=False,
    )


def textured_mesh(
    mesh: UnwrappedMesh,
    normals: np.ndarray,
    material: PBRMaterial,
    name: str = "meshmill",
    texture_format: str = "png",
    tangents: np.ndarray | None = None,
) -> trimesh.Trimesh:
    """A trimesh with UVs, unit normals (``cleanup.unit_vertex_normals``) and ``material`` (``pbr_material``;
    the levels of detail share one), with the tangents a normal map was baked in (``normal_map.vertex_tangents``,
    (V, 4)), which the GLB stores as TANGENT so that no client has to guess them."""
    unit, uvs = checked_attributes(mesh, normals)
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


def lod_name(name: str, level: int) -> str:
    """The node and mesh name of a level of detail: the ``_LOD0`` … suffixes Unity's and Unreal's importers
    group into a LOD group."""
    return f"{name}_LOD{level}"


def glb_bytes(mesh: trimesh.Trimesh, lods: Sequence[trimesh.Trimesh] = ()) -> bytes:
    """The GLB; a WebP texture is declared with EXT_texture_webp. With ``lods`` (levels 1 …, sharing
    ``mesh``'s material), the levels follow the MSFT_lod extension: the scene holds level 0's node, which
    lists the others' nodes, so a viewer without the extension shows level 0 alone; every node and mesh is
    named ``name_LODn``."""
    webp = mesh.metadata.get("texture_format") == "webp"
    if not lods:
        return _rewritten(mesh.export(file_type="glb", include_normals=True, extension_webp=webp), {})
    name = mesh.metadata.get("name", "meshmill")
    return _rewritten(levels_glb(mesh, lods), {lod_name(name, level): level for level in range(len(lods) + 1)})


def levels_glb(mesh: trimesh.Trimesh, lods: Sequence[trimesh.Trimesh]) -> bytes:
    """A GLB whose scene holds every level as its own node named ``name_LODn`` (no MSFT_lod), for importers that
    skip the extension and build LOD groups from those names (Blender on its way to FBX, then Unity and Unreal)."""
    scene = trimesh.Scene()
    name = mesh.metadata.get("name", "meshmill")
    for level, part in enumerate([mesh, *lods]):
        scene.add_geometry(part, geom_name=lod_name(name, level), node_name=lod_name(name, level))
    return scene.export(file_type="glb", include_normals=True, extension_webp=mesh.metadata.get("texture_format") == "webp")


def glb_mesh(glb: bytes) -> trimesh.Trimesh:
    """A GLB's level 0 as one textured mesh (a format made from a stored GLB)."""
    loaded = trimesh.load(io.BytesIO(glb), file_type="glb")
    return next(iter(loaded.geometry.values())) if isinstance(loaded, trimesh.Scene) else loaded


def _rewritten(glb: bytes, levels: dict[str, int]) -> bytes:
    """The GLB with its tangents' attribute renamed from ``TANGENT_ATTRIBUTE`` to TANGENT, its images named for
    what they are (``chest_basecolor``, ``chest_normal``, ``chest_metallic_roughness`` after the material
    ``chest_material``: an importer shows those, not ``Image_0``) and, given the node names of its ``levels`` of
    detail, those written as MSFT_lod (the JSON chunk rewritten and re-padded, the binary chunk as it was)."""
    json_length = struct.unpack_from("<I", glb, 12)[0]
    document = json.loads(glb[20 : 20 + json_length])
    for material in document.get("materials", []):
        stem = material.get("name", "meshmill").removesuffix("_material")
        pbr = material.get("pbrMetallicRoughness", {})
        for role, info in (("basecolor", pbr.get("baseColorTexture")), ("metallic_roughness", pbr.get("metallicRoughnessTexture")),
                           ("normal", material.get("normalTexture"))):  # fmt: skip
            texture = document["textures"][info["index"]] if info else {}
            source = texture.get("source", texture.get("extensions", {}).get("EXT_texture_webp", {}).get("source"))
            if source is not None:
                document["images"][source]["name"] = f"{stem}_{role}"
    for mesh in document.get("meshes", []):
        for primitive in mesh["primitives"]:
            attributes = primitive["attributes"]
            if TANGENT_ATTRIBUTE in attributes:
                attributes["TANGENT"] = attributes.pop(TANGENT_ATTRIBUTE)
    if levels:
        node_of = {node.get("name"): index for index, node in enumerate(document["nodes"])}
        order = [node_of[name] for name in sorted(levels, key=levels.get)]
        document["nodes"][order[0]].setdefault("extensions", {})["MSFT_lod"] = {"ids": order[1:]}
        scene = document["scenes"][document.get("scene", 0)]
        scene["nodes"] = [n for n in scene["nodes"] if n not in order[1:]]
        document["extensionsUsed"] = sorted({*document.get("extensionsUsed", []), "MSFT_lod"})
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    rest = glb[20 + json_length :]
    head = struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(text) + len(rest)) + struct.pack("<I4s", len(text), b"JSON")
    return head + text + rest


def write_obj(
    mesh: trimesh.Trimesh, folder: Path, stem: str, lods: Sequence[trimesh.Trimesh] = (), polygon: np.ndarray | None = None
) -> list[Path]:
    """``obj_files`` written into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in obj_files(mesh, stem, lods, polygon).items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def obj_files(
    mesh: trimesh.Trimesh, stem: str, lods: Sequence[trimesh.Trimesh] = (), polygon: np.ndarray | None = None
) -> dict[str, bytes]:
    """The OBJ, its MTL and its textures as {file name: bytes}. A normal map is written beside the colour
    and named in the MTL twice: ``norm`` (the MTL extension for PBR) and ``map_Bump -bm 1`` (what Blender's
    and most importers read as a tangent-space normal map). ``polygon`` (the polygon of each face, from quad
    retopology) makes the OBJ's faces quads where a quad's two triangles share their UVs; each of ``lods`` is
    ``stem_LODn.obj`` beside it, sharing the MTL and the textures."""
    obj_text, extra = _obj_text(mesh, stem)
    if polygon is not None:
        obj_text = obj_text[: obj_text.index("\nf ") + 1] + _polygon_lines(np.asarray(mesh.faces), np.asarray(polygon))
    files = {f"{stem}.obj": obj_text.encode()}
    files.update(extra)
    bumps = getattr(getattr(mesh.visual, "material", None), "normalTexture", None)
    if bumps is not None:
        name = f"{stem}_normal.png"
        buffer = io.BytesIO()
        bumps.save(buffer, format="PNG", compress_level=PNG_LEVEL)
        files[name] = buffer.getvalue()
        files[f"{stem}.mtl"] = files[f"{stem}.mtl"].rstrip(b"\n") + f"\nnorm {name}\nmap_Bump -bm 1 {name}\n".encode()
    for level, part in enumerate(lods, 1):
        files[f"{lod_name(stem, level)}.obj"] = _obj_text(part, stem, with_texture=False)[0].encode()
    return files


def obj_zip(mesh: trimesh.Trimesh, stem: str, lods: Sequence[trimesh.Trimesh] = (), polygon: np.ndarray | None = None) -> bytes:
    """``obj_files`` in one zip archive, as the web app serves them."""
    return zipped(obj_files(mesh, stem, lods, polygon))


def zipped(files: dict[str, bytes]) -> bytes:
    """``{file name: bytes}`` as one zip archive (a format of several files, stored or served as one)."""
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return packed.getvalue()


def _obj_text(mesh: trimesh.Trimesh, stem: str, with_texture: bool = True) -> tuple[str, dict[str, bytes]]:
    """trimesh's OBJ text (one index per corner for v, vt and vn) naming ``stem.mtl``, with the MTL and
    texture files unless only the text is wanted."""
    return trimesh.exchange.obj.export_obj(
        mesh, include_normals=True, include_texture=True, return_texture=True, mtl_name=f"{stem}.mtl", write_texture=with_texture
    )


def _polygon_lines(faces: np.ndarray, polygon: np.ndarray) -> str:
    """OBJ face lines: a quad for two triangles of one polygon that share an edge, wound alike (x y z and
    its neighbour w z y make x y w z); a triangle for the others, and for a quad cut by a UV seam along its
    diagonal (its two triangles then name different corners there)."""
    order = np.argsort(polygon, kind="stable")
    grouped = polygon[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    sizes = np.diff(np.r_[starts, len(grouped)])
    pairs = starts[sizes == 2]
    first, second = faces[order[pairs]], faces[order[pairs + 1]]
    lone = ~(first[:, :, None] == second[:, None, :]).any(axis=2)  # corners of the first not in the second
    other = ~(second[:, :, None] == first[:, None, :]).any(axis=2)
    merged = (lone.sum(axis=1) == 1) & (other.sum(axis=1) == 1)
    turn = (lone[merged].argmax(axis=1)[:, None] + np.arange(3)) % 3
    x, y, z = np.take_along_axis(first[merged], turn, axis=1).T
    turn = (other[merged].argmax(axis=1)[:, None] + np.arange(3)) % 3
    w, z2, y2 = np.take_along_axis(second[merged], turn, axis=1).T
    alike = (z2 == z) & (y2 == y)
    merged[np.flatnonzero(merged)[~alike]] = False
    quads = np.stack([x, y, w, z], axis=1)[alike]
    triangles = np.concatenate([faces[order[np.repeat(sizes, sizes) != 2]], first[~merged], second[~merged]])
    lines = [" ".join(f"{i}/{i}/{i}" for i in row) for row in (quads + 1).tolist()]
    lines += [" ".join(f"{i}/{i}/{i}" for i in row) for row in (triangles + 1).tolist()]
    return "".join(f"f {line}\n" for line in lines)
