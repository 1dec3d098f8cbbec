"""What a GLB really stores, read back raw (trimesh's loader re-normalises normals, hiding bad ones), and
the problems a validating importer (the Khronos glTF-Validator) would reject."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pygltflib import GLTF2

from inference.mesh.cleanup import sound_faces

_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
#: the validator's own tolerance for "unit length"
UNIT_TOLERANCE = 0.0005


def _accessor(gltf: GLTF2, blob: bytes, index: int) -> np.ndarray:
    accessor = gltf.accessors[index]
    view = gltf.bufferViews[accessor.bufferView]
    dtype, width = np.dtype(_COMPONENTS[accessor.componentType]), _WIDTH[accessor.type]
    start = (view.byteOffset or 0) + (accessor.byteOffset or 0)
    stride = view.byteStride or dtype.itemsize * width
    return np.ndarray((accessor.count, width), dtype, buffer=blob, offset=start, strides=(stride, dtype.itemsize)).copy()


@dataclass(frozen=True)
class GlbAudit:
    """One parse of a GLB: what it holds, and what a validating importer would reject in it."""

    faces: int  # of the meshes the scene shows: level 0 where there are levels of detail
    vertices: int
    has_uv: bool  # every primitive has TEXCOORD_0
    has_texture: bool  # a material has a base-colour texture
    problems: list[str]
    lod_faces: list[int]  # faces of each further level of detail (MSFT_lod), in order


def _scene_meshes(gltf: GLTF2) -> list[int]:
    """The meshes the default scene's node trees show (MSFT_lod's further levels hang outside them)."""
    if not gltf.scenes:
        return list(range(len(gltf.meshes)))
    stack, meshes = list(gltf.scenes[gltf.scene or 0].nodes or []), []
    while stack:
        node = gltf.nodes[stack.pop()]
        if node.mesh is not None:
            meshes.append(node.mesh)
        stack.extend(node.children or [])
    return meshes


def _lod_meshes(gltf: GLTF2) -> list[int]:
    """The mesh of each further level of detail a node lists under MSFT_lod."""
    return [gltf.nodes[i].mesh for node in gltf.nodes for i in (node.extensions or {}).get("MSFT_lod", {}).get("ids", [])]


def _face_count(gltf: GLTF2, mesh: int) -> int:
    count = 0
    for primitive in gltf.meshes[mesh].primitives:
        index = primitive.indices if primitive.indices is not None else primitive.attributes.POSITION
        count += gltf.accessors[index].count // 3
    return count


def _attributes(gltf: GLTF2) -> dict[str, np.ndarray]:
    """Every primitive's POSITION, NORMAL, TEXCOORD_0 and triangle indices, concatenated (indices offset)."""
    blob = gltf.binary_blob() or b""
    found: dict[str, list[np.ndarray]] = {"POSITION": [], "NORMAL": [], "TEXCOORD_0": [], "indices": []}
    offset = 0
    for mesh in gltf.meshes:
        for primitive in mesh.primitives:
            attributes = primitive.attributes
            positions = _accessor(gltf, blob, attributes.POSITION)
            found["POSITION"].append(positions)
            for name in ("NORMAL", "TEXCOORD_0"):
                index = getattr(attributes, name)
                if index is not None:
                    found[name].append(_accessor(gltf, blob, index))
            if primitive.indices is not None:
                found["indices"].append(_accessor(gltf, blob, primitive.indices).reshape(-1, 3).astype(np.int64) + offset)
            offset += len(positions)
    return {name: np.concatenate(parts) for name, parts in found.items() if parts}


def audit_glb(glb: bytes) -> GlbAudit:
    """Parse ``glb`` once and audit it; raises what pygltflib raises for bytes that are not a GLB."""
    gltf = GLTF2.load_from_bytes(glb)
    found = _attributes(gltf)
    primitives = [primitive for mesh in gltf.meshes for primitive in mesh.primitives]
    shown = _scene_meshes(gltf)
    vertices = sum(gltf.accessors[p.attributes.POSITION].count for i in shown for p in gltf.meshes[i].primitives)
    faces = sum(_face_count(gltf, i) for i in shown)
    return GlbAudit(
        faces=faces,
        vertices=vertices,
        has_uv=bool(primitives) and all(p.attributes.TEXCOORD_0 is not None for p in primitives),
        has_texture=any(m.pbrMetallicRoughness and m.pbrMetallicRoughness.baseColorTexture for m in gltf.materials),
        problems=_problems(found),
        lod_faces=[_face_count(gltf, i) for i in _lod_meshes(gltf)],
    )


def glb_problems(glb: bytes) -> list[str]:
    """Empty when the GLB's geometry is sound: finite positions, unit normals, UVs in [0, 1], no
    degenerate or repeated triangle. Otherwise one line per kind of problem, with counts."""
    try:
        return audit_glb(glb).problems
    except Exception as exc:  # not a GLB pygltflib can read
        return [f"unreadable GLB: {exc}"]


def attribute_problems(positions: np.ndarray, normals: np.ndarray | None = None, uvs: np.ndarray | None = None) -> list[str]:
    """What a validator rejects in vertex attributes: non-finite positions, normals not of unit length,
    UVs outside [0, 1] (NaN fails each). One line per kind, with counts; empty when sound."""
    problems = []
    finite = np.isfinite(positions).all(axis=1)
    if not finite.all():
        problems.append(f"{int((~finite).sum())} positions are not finite")
    if normals is not None:
        length = np.linalg.norm(np.asarray(normals, np.float64), axis=1)
        bad = ~(np.abs(length - 1.0) <= UNIT_TOLERANCE)
        if bad.any():
            problems.append(f"{int(bad.sum())} of {len(length)} normals are not of unit length")
    if uvs is not None:
        bad = ~((uvs >= 0) & (uvs <= 1)).all(axis=1)
        if bad.any():
            problems.append(f"{int(bad.sum())} UVs lie outside [0, 1]")
    return problems


def _problems(found: dict[str, np.ndarray]) -> list[str]:
    positions = found.get("POSITION", np.zeros((0, 3), np.float32))
    problems = attribute_problems(positions, found.get("NORMAL"), found.get("TEXCOORD_0"))
    if "indices" in found:
        unsound = int((~sound_faces(positions, found["indices"])).sum())
        if unsound:
            problems.append(f"{unsound} of {len(found['indices'])} triangles are degenerate or repeat another")
    return problems
