"""What a GLB really stores, read back raw (trimesh's loader re-normalises normals, hiding bad ones), and
the problems a validating importer (the Khronos glTF-Validator) would reject."""

from __future__ import annotations

import numpy as np
from pygltflib import GLTF2

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


def glb_attributes(glb: bytes) -> dict[str, np.ndarray]:
    """Every primitive's POSITION, NORMAL, TEXCOORD_0 and triangle indices, concatenated (indices offset)."""
    gltf = GLTF2.load_from_bytes(glb)
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


def glb_problems(glb: bytes) -> list[str]:
    """Empty when the GLB's geometry is sound: finite positions, unit normals, UVs in [0, 1], no
    degenerate or repeated triangle. Otherwise one line per kind of problem, with counts."""
    try:
        found = glb_attributes(glb)
    except Exception as exc:  # not a GLB pygltflib can read
        return [f"unreadable GLB: {exc}"]
    problems = []
    positions = found.get("POSITION", np.zeros((0, 3)))
    if not np.isfinite(positions).all():
        problems.append(f"{int((~np.isfinite(positions).all(axis=1)).sum())} positions are not finite")
    if "NORMAL" in found:
        length = np.linalg.norm(found["NORMAL"].astype(np.float64), axis=1)
        bad = ~(np.abs(length - 1.0) <= UNIT_TOLERANCE)
        if bad.any():
            problems.append(f"{int(bad.sum())} of {len(length)} normals are not of unit length")
    if "TEXCOORD_0" in found:
        uv = found["TEXCOORD_0"]
        bad = ~((uv >= 0) & (uv <= 1)).all(axis=1)
        if bad.any():
            problems.append(f"{int(bad.sum())} UVs lie outside [0, 1]")
    if "indices" in found:
        tri = found["indices"]
        repeated = (tri[:, 0] == tri[:, 1]) | (tri[:, 1] == tri[:, 2]) | (tri[:, 0] == tri[:, 2])
        if repeated.any():
            problems.append(f"{int(repeated.sum())} triangles repeat a corner")
        p = positions.astype(np.float64)[tri]
        flat = np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1) == 0
        if (flat & ~repeated).any():
            problems.append(f"{int((flat & ~repeated).sum())} triangles have no area")
        duplicates = len(tri) - len(np.unique(np.sort(tri, axis=1), axis=0))
        if duplicates:
            problems.append(f"{duplicates} triangles repeat another")
    return problems
