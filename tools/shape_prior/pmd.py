"""Read 0 A.D.'s PMD meshes (the engine's cached form of its COLLADA art), which no Python library reads.

A PMD file holds, little-endian: ``PSMD``, version (3 or 4), data size, the vertex count, from version 4 the
number of UV sets, then per vertex position (3 floats), normal (3 floats), UVs (2 floats each), four bone
indices (bytes) and four bone weights (floats), then the face count and three uint16 indices per face;
bones and prop points follow and are not needed here. Positions are in the engine's frame: +Y up.
"""

from __future__ import annotations

import struct

import numpy as np


class PmdError(ValueError):
    """The bytes are not a PMD mesh this reader understands."""


def read_pmd(data: bytes, name: str = "mesh") -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V×3 float32) and faces (F×3 int64) of a PMD file's bytes."""
    if data[:4] != b"PSMD" or len(data) < 20:
        raise PmdError(f"{name}: not a PMD mesh (no PSMD header)")
    version, _, vertex_count = struct.unpack_from("<3I", data, 4)
    if version not in (3, 4):
        raise PmdError(f"{name}: PMD version {version} is not read here (3 and 4 are)")
    offset = 16
    uv_sets = 1
    if version >= 4:
        (uv_sets,) = struct.unpack_from("<I", data, offset)
        offset += 4
    vertex = np.dtype(
        [("position", "<f4", 3), ("normal", "<f4", 3), ("uv", "<f4", (uv_sets, 2)), ("bones", "u1", 4), ("weights", "<f4", 4)]
    )
    end = offset + vertex_count * vertex.itemsize
    if end + 4 > len(data):
        raise PmdError(f"{name}: truncated vertex block")
    positions = np.frombuffer(data, vertex, count=vertex_count, offset=offset)["position"].astype(np.float32)
    (face_count,) = struct.unpack_from("<I", data, end)
    if end + 4 + face_count * 6 > len(data):
        raise PmdError(f"{name}: truncated face block")
    faces = np.frombuffer(data, "<u2", count=face_count * 3, offset=end + 4).reshape(-1, 3).astype(np.int64)
    if len(faces) and faces.max() >= vertex_count:
        raise PmdError(f"{name}: a face names a vertex past the {vertex_count} there are")
    return positions, faces
