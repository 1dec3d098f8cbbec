"""The dense surface's clean-up (``cleanup.dense_surface``) in torch, for the GPU: the same steps, the same result.

A learned backend returns about a million faces, and on the CPU their clean-up — repeated vertices merged, unsound
faces dropped, floaters dropped, voxel steps smoothed — took 1.4–1.5 s of the finish, as much as everything after
it. Each step is a sort, a gather or a scatter over the faces, which a GPU does in milliseconds, so on CUDA
``dense_surface`` runs them here instead, as trimesh and scipy run them on the CPU:

- vertices merge where their positions agree to 8 decimals (trimesh's ``merge_vertices``), the first of each kept,
  in the order they come, and a vertex no face uses goes;
- a face is dropped where ``cleanup.sound_faces`` drops it (corners repeated or not finite, no area at float32, a
  repeat of an earlier face);
- pieces with fewer than ``min_fraction`` of the largest piece's faces go (``cleanup.drop_floaters``), the pieces found
  by label propagation (each vertex takes the smallest label among its neighbours' roots, then every label jumps to its
  root, until nothing changes: a few dozen rounds where scipy's search walks the graph one vertex at a time);
- Taubin smoothing as trimesh's ``filter_taubin`` does it: each vertex moves toward the mean of the vertices its faces
  lead to (each directed edge once, divided by how many lead out of it, duplicates too), by λ and then by −ν in turn.

Both paths are tested against each other on awkward meshes (``tests/inference/test_cleanup.py``).
"""

from __future__ import annotations

import numpy as np
import torch

from inference.runtime.ordered_sum import OrderedSum

#: vertices merge where their positions agree to this many decimals (trimesh's ``tol.merge``, 1e-8)
MERGE_DIGITS = 8


def _first_of_groups(inverse: torch.Tensor, groups: int) -> torch.Tensor:
    """For ``inverse`` (N,) mapping each item to one of ``groups``: the first item of each group."""
    first = torch.full((groups,), len(inverse), dtype=torch.long, device=inverse.device)
    return first.scatter_reduce_(0, inverse, torch.arange(len(inverse), device=inverse.device), "amin")


def _compacted(v: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Only the vertices some face uses, in their order; faces renumbered."""
    used = torch.zeros(len(v), dtype=torch.bool, device=v.device)
    used[f.reshape(-1)] = True
    renumber = torch.cumsum(used, 0) - 1
    return v[used], renumber[f]


def merged(v: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Referenced vertices at one position (to MERGE_DIGITS decimals) made one: the first of each group, groups in
    the order of their first vertex."""
    v, f = _compacted(v, f)
    if not len(v):
        return v, f
    rounded = torch.round(v * 10.0**MERGE_DIGITS).long()
    groups, inverse = torch.unique(rounded, dim=0, return_inverse=True)
    first = _first_of_groups(inverse, len(groups))
    order = torch.argsort(first)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order), device=v.device)
    return v[first[order]], rank[inverse][f]


def sound(v: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Which faces ``cleanup.sound_faces`` keeps: distinct corners at finite positions, an area above zero at float32,
    the first of any repeat (in either winding)."""
    if not len(f):
        return torch.zeros(0, dtype=torch.bool, device=f.device)
    stored = v.to(torch.float32).to(torch.float64)[f]
    area = torch.linalg.cross(stored[:, 1] - stored[:, 0], stored[:, 2] - stored[:, 0]).norm(dim=1)
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    keep &= torch.isfinite(stored).all(dim=2).all(dim=1) & (area > 0)
    corners = torch.sort(f, dim=1).values
    if len(v) < 1 << 21:
        corners = (corners[:, 0] << 42) | (corners[:, 1] << 21) | corners[:, 2]
        groups, inverse = torch.unique(corners, return_inverse=True)
    else:
        groups, inverse = torch.unique(corners, dim=0, return_inverse=True)
    unique = torch.zeros(len(f), dtype=torch.bool, device=f.device)
    unique[_first_of_groups(inverse, len(groups))] = True
    return keep & unique


def pieces(f: torch.Tensor, vertex_count: int) -> torch.Tensor:
    """Each vertex's connected piece, as the smallest vertex index in it (label propagation with pointer jumping)."""
    a = torch.cat([f[:, 0], f[:, 1]])
    b = torch.cat([f[:, 1], f[:, 2]])
    label = torch.arange(vertex_count, device=f.device)
    while True:
        la, lb = label[a], label[b]
        differ = la != lb
        if not bool(differ.any()):
            return label
        low, high = torch.minimum(la[differ], lb[differ]), torch.maximum(la[differ], lb[differ])
        label.scatter_reduce_(0, high, low, "amin")  # a root takes the smallest root it touches
        while True:  # ... and every label jumps to its root
            jumped = label[label]
            if bool((jumped == label).all()):
                break
            label = jumped


def without_floaters(v: torch.Tensor, f: torch.Tensor, min_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The pieces with at least ``min_fraction`` of the largest piece's faces, and only the vertices they use."""
    label = pieces(f, len(v))
    face_piece = label[f[:, 0]]
    sizes = torch.bincount(face_piece, minlength=len(v))
    keep = sizes[face_piece] >= min_fraction * sizes.max()
    return _compacted(v, f[keep])  # a vertex the unsound faces left unused goes too


def taubin(v: torch.Tensor, f: torch.Tensor, iterations: int, lamb: float = 0.5, nu: float = -0.53) -> torch.Tensor:
    """``v`` smoothed as trimesh's ``filter_taubin`` with its equal-weight Laplacian smooths it."""
    start = f.reshape(-1)
    end = f[:, [1, 2, 0]].reshape(-1)
    n = len(v)
    leading = torch.bincount(start, minlength=n).to(v.dtype)  # directed edges out of each vertex, repeats too
    key = torch.unique(start * n + end)  # ... each directed edge once in the mean
    start, end = key // n, key % n
    v = v.clone()
    summed = OrderedSum(start, n)  # in a fixed order: the same surface smooths the same way every run on CUDA too
    for index in range(iterations):
        mean = summed(v[end]) / leading[:, None]
        v += (lamb if index % 2 == 0 else -nu) * (mean - v)
    return v


def clean_dense(
    vertices: np.ndarray, faces: np.ndarray, smooth_iterations: int, min_fraction: float, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """``cleanup.dense_surface``'s steps on ``device`` for faces whose corners are all at finite positions; the
    cleaned vertices and faces (numpy), no face left where none is sound."""
    v = torch.as_tensor(np.ascontiguousarray(vertices, dtype=np.float64), device=device)
    f = torch.as_tensor(np.ascontiguousarray(faces, dtype=np.int64), device=device)
    v, f = merged(v, f)
    f = f[sound(v, f)]
    if len(f):
        v, f = without_floaters(v, f, min_fraction)
        if smooth_iterations:
            v = taubin(v, f, smooth_iterations)
    return v.cpu().numpy(), f.cpu().numpy()
