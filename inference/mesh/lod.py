"""Levels of detail that share the budget mesh's texture atlas.

Each level is the unwrapped budget mesh simplified by meshoptimizer, which keeps UV seams as seams: a vertex
split along a seam collapses only along it, so every level's UVs still point into the one atlas baked for
the budget mesh, and no texture is baked again.
"""

from __future__ import annotations

import numpy as np

from inference.mesh.cleanup import sound_faces
from inference.mesh.uv import UnwrappedMesh

#: simplification error allowed, relative to the mesh's extent: high enough that the face count, not the
#: error, stops it (a studio asks a level for a face count)
LOD_TARGET_ERROR = 1.0


def lod_levels(mesh: UnwrappedMesh, levels: int) -> list[UnwrappedMesh]:
    """``levels`` simplified copies of ``mesh``, level n with about 2⁻ⁿ of its faces (n = 1 … levels), each
    with the vertices it uses (``source_vertex`` still names the welded budget-mesh vertex) and no unsound
    face (``cleanup.sound_faces``). A level stops where seams leave nothing to collapse, so it may keep more
    faces than asked."""
    import meshoptimizer  # deferred: only variants with LODs need it

    indices = np.ascontiguousarray(mesh.faces, np.uint32).ravel()
    positions = np.ascontiguousarray(mesh.vertices, np.float32)
    result = []
    for level in range(1, levels + 1):
        target = max(3, len(mesh.faces) >> level) * 3
        out = np.empty_like(indices)
        count = meshoptimizer.simplify(out, indices, positions, target_index_count=target, target_error=LOD_TARGET_ERROR)
        faces = out[:count].reshape(-1, 3).astype(np.int64)
        faces = faces[sound_faces(mesh.vertices, faces)]  # a collapse can leave a sliver of no area at float32, or a repeat
        used, compact = np.unique(faces, return_inverse=True)
        result.append(UnwrappedMesh(mesh.vertices[used], compact.reshape(-1, 3), mesh.uvs[used], mesh.source_vertex[used]))
        indices = np.ascontiguousarray(faces, np.uint32).ravel()  # the next level simplifies this one
    return result
