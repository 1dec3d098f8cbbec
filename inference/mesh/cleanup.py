"""Mesh clean-up: drop floaters and unsound faces, smooth voxel steps, decimate to a face budget, unit normals."""

from __future__ import annotations

import fast_simplification
import numpy as np
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

FACE_TOLERANCE = 0.05  # decimated face count lands within ±5 % of the target
#: the most one simplifier pass is asked to reduce by: asked for far more at once, it can stall well above
#: its target (a 246k-face lathe asked for 600 faces stopped at 3,638; in two passes of ≤10× it lands on 600)
MAX_PASS_REDUCTION = 10


class MeshError(ValueError):
    """The generated mesh is unusable (empty, degenerate); the message says how."""


def drop_floaters(mesh: trimesh.Trimesh, min_fraction: float = 0.01) -> trimesh.Trimesh:
    """Keep connected pieces with at least ``min_fraction`` of the largest piece's faces."""
    faces = np.asarray(mesh.faces)
    n = len(mesh.vertices)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    graph = coo_matrix((np.ones(len(edges), np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
    count, vertex_piece = connected_components(graph, directed=False)
    if count <= 1:
        return mesh
    face_piece = vertex_piece[faces[:, 0]]
    sizes = np.bincount(face_piece, minlength=count)
    keep = sizes[face_piece] >= min_fraction * sizes.max()
    mesh.update_faces(keep)
    mesh.remove_unreferenced_vertices()
    return mesh


def decimate(vertices: np.ndarray, faces: np.ndarray, target_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric decimation (fast-simplification) to ``target_faces`` ± 5 %; subdivides first if short."""
    while len(faces) < target_faces:
        vertices, faces = trimesh.remesh.subdivide(vertices, faces)
    if len(faces) <= target_faces * (1 + FACE_TOLERANCE):
        return vertices, faces
    while len(faces) > target_faces * MAX_PASS_REDUCTION:
        vertices, faces = fast_simplification.simplify(vertices, faces, target_count=max(target_faces, len(faces) // MAX_PASS_REDUCTION))
    aim = target_faces
    for _ in range(4):  # the simplifier overshoots a little on some meshes; nudge the aim and retry
        reduction = 1.0 - aim / len(faces)
        out_v, out_f = fast_simplification.simplify(vertices, faces, target_reduction=reduction)
        if abs(len(out_f) - target_faces) <= FACE_TOLERANCE * target_faces:
            return out_v, out_f
        aim = max(4, int(aim * target_faces / max(len(out_f), 1)))
    raise MeshError(f"could not decimate {len(faces)} faces to {target_faces} ± 5 % (got {len(out_f)})")


def sound_faces(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Which faces a file may keep: three distinct corners at finite positions, an area above zero at the
    float32 precision a GLB stores, and not a repeat of an earlier face (in either winding)."""
    vertices, faces = np.asarray(vertices), np.asarray(faces, np.int64)
    if len(faces) == 0:
        return np.zeros(0, bool)
    stored = np.asarray(vertices, np.float32).astype(np.float64)
    corners = stored[faces]
    area = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    keep &= np.isfinite(corners).all(axis=(1, 2)) & (area > 0)
    _, first = np.unique(np.sort(faces, axis=1), axis=0, return_index=True)
    unique = np.zeros(len(faces), bool)
    unique[first] = True
    return keep & unique


def unit_vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals, every one of unit length.

    Where a vertex's faces cancel out (a fin, a fold the decimator left) or have no area, its normal is
    its largest face's; a vertex with no face of any area points away from the mesh's centre (or up)."""
    v, f = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    n = len(v)
    cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]) if len(f) else np.zeros((0, 3))
    area = np.linalg.norm(cross, axis=1)
    corners = f.ravel()
    sums = np.stack([np.bincount(corners, weights=np.repeat(cross[:, k], 3), minlength=n) for k in range(3)], axis=1)
    total = np.bincount(corners, weights=np.repeat(area, 3), minlength=n)
    weak = ~(np.linalg.norm(sums, axis=1) > 1e-6 * total)
    if weak.any() and len(f):
        order = np.argsort(area, kind="stable")
        rank = np.empty(len(f), np.int64)
        rank[order] = np.arange(len(f))
        best = np.full(n, -1, np.int64)  # per vertex: the rank of its largest face
        for k in range(3):
            np.maximum.at(best, f[:, k], rank)
        has_face = weak & (best >= 0)
        sums[has_face] = cross[order[best[has_face]]]
    missing = ~(np.linalg.norm(sums, axis=1) > 0)
    if missing.any():
        away = v - (v.min(axis=0) + v.max(axis=0)) / 2 if n else v
        sums[missing] = away[missing]
        sums[missing & ~(np.linalg.norm(sums, axis=1) > 0)] = (0.0, 1.0, 0.0)
    return sums / np.linalg.norm(sums, axis=1, keepdims=True)


def clean_mesh(vertices: np.ndarray, faces: np.ndarray, target_faces: int, smooth_iterations: int = 8) -> trimesh.Trimesh:
    """A clean, consistently wound mesh of about ``target_faces`` faces: no degenerate or repeated face,
    nothing at a non-finite position (take its normals from ``unit_vertex_normals``)."""
    if len(vertices) == 0 or len(faces) == 0:
        raise MeshError("the generator produced an empty mesh")
    faces = np.asarray(faces)[sound_faces(vertices, faces)]
    if len(faces) == 0:
        raise MeshError("the generator produced no face with an area at finite positions")
    mesh = trimesh.Trimesh(vertices, faces, process=True)
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh = drop_floaters(mesh)
    if smooth_iterations:
        trimesh.smoothing.filter_taubin(mesh, lamb=0.5, nu=-0.53, iterations=smooth_iterations)
    v, f = decimate(np.asarray(mesh.vertices), np.asarray(mesh.faces), target_faces)
    mesh = trimesh.Trimesh(v, f, process=True)
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.update_faces(sound_faces(mesh.vertices, mesh.faces))
    mesh.remove_unreferenced_vertices()
    if len(mesh.faces) == 0:
        raise MeshError("the mesh has no faces left after clean-up")
    trimesh.repair.fix_normals(mesh)
    return mesh
