"""Mesh clean-up: drop floaters and unsound faces, smooth voxel steps, decimate to a face budget, unit normals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import fast_simplification
import numpy as np
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components

from inference.errors import MeshError

if TYPE_CHECKING:
    import torch

FACE_TOLERANCE = 0.05  # decimated face count lands within ±5 % of the target
#: the most one simplifier pass is asked to reduce by: asked for far more at once, it can stall well above
#: its target (a 246k-face lathe asked for 600 faces stopped at 3,638; in two passes of ≤10× it lands on 600)
MAX_PASS_REDUCTION = 10
#: a connected piece of the dense surface with fewer than this share of the largest piece's faces is a floater
FLOATER_FRACTION = 0.01


def drop_floaters(mesh: trimesh.Trimesh, min_fraction: float = FLOATER_FRACTION) -> trimesh.Trimesh:
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


def decimate(vertices: np.ndarray, faces: np.ndarray, target_faces: int, device: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Quadric decimation to ``target_faces`` ± 5 %; subdivides first if short. On CUDA (``device``; default: CUDA
    when there is one) the edges collapse in parallel on the GPU (``inference.mesh.collapse``), which keeps the
    surface's topology: a surface with more handles than the budget can hold (a noisy one's tiny tunnels) is collapsed
    there only as far as its handles leave room, and fast-simplification, which collapses one edge at a time on the
    CPU, through handles too, takes it the rest of the way, as it takes every surface on a CPU. Where that stalls
    above the target (non-manifold fins and slivers it will not collapse), the closest result it reached:
    ``budget_mesh`` says so."""
    while len(faces) < target_faces:
        vertices, faces = trimesh.remesh.subdivide(vertices, faces)
    if len(faces) <= target_faces * (1 + FACE_TOLERANCE):
        return vertices, faces
    where = _cuda(device)
    if where is not None:
        from inference.mesh.collapse import decimate_parallel

        vertices, faces = decimate_parallel(vertices, faces, target_faces, where, stop_at_handle_floor=True)
        if len(faces) <= target_faces * (1 + FACE_TOLERANCE):
            return vertices, faces
    given = vertices, faces
    while len(faces) > target_faces * MAX_PASS_REDUCTION:
        vertices, faces = fast_simplification.simplify(vertices, faces, target_count=max(target_faces, len(faces) // MAX_PASS_REDUCTION))
    best = _simplified(vertices, faces, target_faces)
    # on a closed surface without handles (vertices − faces / 2 = 2: its Euler characteristic) an edge with three faces is
    # the passes' doing, and one pass may not pinch it; a surface with handles gets such edges from collapsing through
    # them either way, so it is not simplified twice
    pinched = non_manifold_edges(best[1]) if len(faces) < len(given[1]) and len(given[0]) - len(given[1]) / 2 == 2 else 0
    if pinched:
        single = _simplified(*given, target_faces)
        if within_budget(len(single[1]), target_faces) and non_manifold_edges(single[1]) < pinched:
            return single
    return best


def _cuda(device: str | None) -> torch.device | None:
    """The CUDA device torch work asked for on ``device`` (None: CUDA when there is one) runs on, or None: the CPU.
    torch is imported here, where a mesh is worked on, not with the module."""
    from inference.runtime.devices import torch_device

    where = torch_device(device)
    return where if where.type == "cuda" else None


def _simplified(vertices: np.ndarray, faces: np.ndarray, target_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """fast-simplification to ``target_faces`` in one pass; the simplifier overshoots a little on some meshes, so the
    aim is nudged and the pass retried, and the closest result kept."""
    aim, best = target_faces, None
    for _ in range(4):
        reduction = 1.0 - aim / len(faces)
        out_v, out_f = fast_simplification.simplify(vertices, faces, target_reduction=reduction)
        if within_budget(len(out_f), target_faces):
            return out_v, out_f
        if best is None or abs(len(out_f) - target_faces) < abs(len(best[1]) - target_faces):
            best = out_v, out_f
        aim = max(4, int(aim * target_faces / max(len(out_f), 1)))
    return best


def non_manifold_edges(faces: np.ndarray) -> int:
    """How many edges of ``faces`` (F, 3) more than two faces share."""
    faces = np.asarray(faces, np.int64)
    if not len(faces):
        return 0
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, sharing = np.unique(edges[:, 0] * (int(faces.max()) + 1) + edges[:, 1], return_counts=True)
    return int((sharing > 2).sum())


def _face_keys(faces: np.ndarray, vertex_count: int) -> np.ndarray:
    """One sortable key per face, the same for the same three corners in any order: an int64 where the
    indices fit in 21 bits each (two million vertices), else the sorted rows (slower to compare)."""
    ordered = np.sort(faces, axis=1)
    if vertex_count < 1 << 21:
        return (ordered[:, 0] << 42) | (ordered[:, 1] << 21) | ordered[:, 2]
    return ordered


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
    _, first = np.unique(_face_keys(faces, len(vertices)), axis=0, return_index=True)
    unique = np.zeros(len(faces), bool)
    unique[first] = True
    return keep & unique


def weld_by_position(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices at one position (to 1e-6) made one, across UV seams and in meshes whose faces share no vertices:
    the index of one vertex per position, and each vertex's position (so ``faces`` become ``inverse[faces]``)."""
    _, first, inverse = np.unique(np.round(np.asarray(vertices, np.float64), 6), axis=0, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


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


def dense_surface(vertices: np.ndarray, faces: np.ndarray, smooth_iterations: int = 8, device: str | None = None) -> trimesh.Trimesh:
    """The generator's surface before decimation: no face at a non-finite position, no degenerate or repeated
    face, no floater, voxel steps smoothed. What a normal map is baked from (``normal_map``). On CUDA (``device``;
    default: CUDA when there is one) the same steps run there (``inference.mesh.dense_on_device``)."""
    if len(vertices) == 0 or len(faces) == 0:
        raise MeshError("the generator produced an empty mesh")
    vertices, faces = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    faces = faces[np.isfinite(vertices).all(axis=1)[faces].all(axis=1)]
    where = _cuda(device)
    if where is not None:
        from inference.mesh.dense_on_device import clean_dense

        vertices, faces = clean_dense(vertices, faces, smooth_iterations, FLOATER_FRACTION, where)
        if len(faces) == 0:
            raise MeshError("the generator produced no face with an area at finite positions")
        return trimesh.Trimesh(vertices, faces, process=False)
    mesh = trimesh.Trimesh(vertices, faces, process=True)  # merges repeated vertices
    mesh.update_faces(sound_faces(mesh.vertices, mesh.faces))
    if len(mesh.faces) == 0:
        raise MeshError("the generator produced no face with an area at finite positions")
    mesh = drop_floaters(mesh)
    if smooth_iterations:
        trimesh.smoothing.filter_taubin(mesh, lamb=0.5, nu=-0.53, iterations=smooth_iterations)
    return mesh


def within_budget(face_count: int, target_faces: int) -> bool:
    return abs(face_count - target_faces) <= FACE_TOLERANCE * target_faces


def budget_shortfall(face_count: int, target_faces: int) -> str | None:
    """What to tell the user when a decimated mesh missed its budget (it is still made: the asset's face-budget
    check flags it), else None."""
    if within_budget(face_count, target_faces):
        return None
    return (
        f"the surface could only be decimated to {face_count:,} faces of the {target_faces:,} asked: it has "
        "non-manifold parts the simplifier will not collapse"
    )


def budget_mesh(dense: trimesh.Trimesh, target_faces: int, device: str | None = None) -> trimesh.Trimesh:
    """``dense`` decimated to about ``target_faces`` on ``device`` (``decimate``; ``budget_shortfall`` says when it
    could not be), consistently wound, with no unsound face left."""
    v, f = decimate(np.asarray(dense.vertices), np.asarray(dense.faces), target_faces, device)
    mesh = trimesh.Trimesh(v, f, process=True)
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.update_faces(sound_faces(mesh.vertices, mesh.faces))
    mesh.remove_unreferenced_vertices()
    if len(mesh.faces) == 0:
        raise MeshError("the mesh has no faces left after clean-up")
    mesh.faces = orient_faces(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    return mesh


def clean_mesh(vertices: np.ndarray, faces: np.ndarray, target_faces: int, smooth_iterations: int = 8) -> trimesh.Trimesh:
    """A clean, consistently wound mesh of about ``target_faces`` faces: no degenerate or repeated face,
    nothing at a non-finite position (take its normals from ``unit_vertex_normals``)."""
    return budget_mesh(dense_surface(vertices, faces, smooth_iterations), target_faces)


def orient_faces(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """The faces wound consistently across each connected piece (neighbours run their shared edge in
    opposite directions) and outward (each piece's signed volume positive). What trimesh's fix_normals
    does, without its per-face Python loop (4.7 s on a decimated 20k-face noisy surface, here ~0.1 s)."""
    faces = np.asarray(faces, np.int64).copy()
    count = len(faces)
    if count == 0:
        return faces
    # every directed edge of every face; an undirected edge shared by two faces joins them
    directed = np.stack([faces, np.roll(faces, -1, axis=1)], axis=2).reshape(-1, 2)
    owner = np.repeat(np.arange(count), 3)
    undirected = np.sort(directed, axis=1)
    key = undirected[:, 0] * (int(faces.max()) + 1) + undirected[:, 1]
    order = np.argsort(key, kind="stable")
    key, owner, forward = key[order], owner[order], (directed[order, 0] < directed[order, 1])
    pair = np.nonzero(key[1:] == key[:-1])[0]  # consecutive sharers of one edge (a non-manifold edge chains them)
    a, b = owner[pair], owner[pair + 1]
    flip_relative = (forward[pair] == forward[pair + 1]).astype(np.int8)  # same direction: one of them is inverted
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(count, count)).tocsr()
    piece_count, pieces = connected_components(graph, directed=False)
    # the relative flip of each joined pair, looked up by the pair's own key
    pair_key = np.minimum(a, b) * count + np.maximum(a, b)
    by_key = np.argsort(pair_key, kind="stable")
    pair_key, flip_relative = pair_key[by_key], flip_relative[by_key]
    flip = [False] * count
    for root in np.unique(pieces, return_index=True)[1]:
        bfs, parent = breadth_first_order(graph, int(root), directed=False, return_predecessors=True)
        children = bfs[1:]
        parents = parent[children]
        wanted = np.minimum(children, parents) * count + np.maximum(children, parents)
        relative = flip_relative[np.searchsorted(pair_key, wanted)].tolist()
        for node, up, rel in zip(children.tolist(), parents.tolist(), relative, strict=True):  # parents before children
            flip[node] = flip[up] ^ bool(rel)
    flip = np.asarray(flip, bool)
    faces[flip] = faces[flip][:, ::-1]
    corners = np.asarray(vertices, np.float64)[faces]
    volume = np.einsum("ij,ij->i", corners[:, 0], np.cross(corners[:, 1], corners[:, 2]))
    inward = np.bincount(pieces, weights=volume, minlength=piece_count) < 0
    turn = inward[pieces]
    faces[turn] = faces[turn][:, ::-1]
    return faces
