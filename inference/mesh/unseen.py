"""Colour for the surface no view sees: carried across the mesh from the surface that is seen.

A prop drawn once from the front shows nothing of its back. Taking the front's colour straight through the
object put the front's eyes, labels and patterns on the back, mirrored. Here the colours the views give are
gathered onto the mesh's vertices, and every vertex no view sees squarely takes the harmonic interpolation of
the seen ones (each unseen vertex the mean of its neighbours, the seen ones held fixed): colour flows in over
the surface from the rim and the sides, smoothly, never through the object, so no interior feature of a view
reaches a side it was not drawn on. Away from the rim the fill settles on the seen surface's dominant colour
(screened: each unseen vertex also pulled a little toward it), not on the average of the rim: the back of a
white ball with black patches is white, not grey. Seams need no care: the vertices are the welded surface's,
on which a seam does not exist.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch

from inference.runtime.ordered_sum import OrderedSum

#: a texel whose views' summed weight (alpha × cos² of the view angle) reaches this keeps its views' colour
#: alone; below, it is blended with the fill (a view at 86° from the surface normal gives 0.005). Measured under
#: Blender's light (docs/benchmarks.md, "Whole objects"): 0.25 (60°) took 0.4 dB off the front, where the fill replaced
#: colours the front sees; 0.05 (77°) and 0.005 scored alike, 0.005 keeping a little more of what a view saw
CONFIDENT = 0.005
#: a vertex is held at its views' colour when its texels' mean confidence reaches this
SEEN_VERTEX = 0.5
#: the pull of every unseen vertex toward the seen surface's dominant colour, against its neighbours' weight of
#: about 6: the rim's colours fade into the dominant one over roughly sqrt(6 / PULL) edges (25 here, about a
#: sixth of a 20k-face prop across); it also keeps a part of the mesh that touches no seen vertex solvable
PULL = 0.01
#: the vertices' colours are gathered from at most this many texels, evenly strided (they come in raster order,
#: so they stay spread over the atlas): ten or more a vertex at a 20k-face budget, a quarter of a 1024² bake's
GATHER_SAMPLES = 262_144
#: the dominant colour is the fullest cell of the seen colours' histogram, with this many cells a channel
DOMINANT_BINS = 6


def texel_confidence(weight_sum: torch.Tensor) -> torch.Tensor:
    """How far each texel's own views are trusted, 0–1, from their summed weights."""
    return (weight_sum / CONFIDENT).clamp(0.0, 1.0)


def dominant_colour(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The mean of ``values`` (N, C, 0–1) in the fullest cell (by ``weights``) of a DOMINANT_BINS^C histogram."""
    cells = np.clip((values * DOMINANT_BINS).astype(np.int64), 0, DOMINANT_BINS - 1)
    index = np.ravel_multi_index(cells.T, (DOMINANT_BINS,) * values.shape[1])
    fullest = np.argmax(np.bincount(index, weights=weights))
    chosen = index == fullest
    return np.average(values[chosen], axis=0, weights=weights[chosen] + 1e-12)


def harmonic_fill(
    faces: np.ndarray, values: np.ndarray, known: np.ndarray, target: np.ndarray | None = None, pull: float = PULL
) -> np.ndarray:
    """``values`` (V, C) with every vertex where ``known`` (V,) is False replaced by the harmonic
    interpolation of the known ones over the mesh's edges (uniform weights), screened: each also pulled with
    weight ``pull`` toward ``target`` (C,) (default: the known values' mean)."""
    count = len(values)
    unknown = ~known
    if not known.any():
        return np.broadcast_to(values.mean(axis=0) if target is None else target, values.shape).copy()
    if not unknown.any():
        return values
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    rows, cols = np.concatenate([edges[:, 0], edges[:, 1]]), np.concatenate([edges[:, 1], edges[:, 0]])
    adjacency = scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(count, count))
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    laplacian = scipy.sparse.diags(degree + pull) - adjacency
    u, k = np.flatnonzero(unknown), np.flatnonzero(known)
    target = values[known].mean(axis=0) if target is None else np.asarray(target, np.float64)
    rhs = adjacency[u][:, k] @ values[k] + pull * target[None, :]
    solved = scipy.sparse.linalg.splu(laplacian[u][:, u].tocsc()).solve(np.ascontiguousarray(rhs, dtype=np.float64))
    out = values.astype(np.float64, copy=True)
    out[u] = solved
    return out


def gather_samples(count: int, device: torch.device) -> torch.Tensor:
    """Indices of at most GATHER_SAMPLES of ``count`` texels, evenly strided."""
    if count <= GATHER_SAMPLES:
        return torch.arange(count, device=device)
    return torch.linspace(0, count - 1, GATHER_SAMPLES, device=device).long()


def fill_unseen(
    corner_vertex: torch.Tensor,
    bary: torch.Tensor,
    colours: torch.Tensor,
    confidence: torch.Tensor,
    faces: np.ndarray,
    vertex_count: int,
) -> torch.Tensor:
    """A colour (V, C) for every welded vertex: the texels' views' colours gathered onto the vertices (where
    ``confidence`` holds), carried over the surface to the rest (``harmonic_fill``). A texel's fill is then
    its face's corners' colours by its barycentrics.

    ``corner_vertex`` (N, 3): each texel's face's corners on the welded mesh (``faces``, ``vertex_count``
    vertices); ``bary`` (N, 3) its barycentrics; ``colours`` (N, C) its views' colours (anything where
    ``confidence`` is 0). Any subset of the texels will do (``gather_samples``)."""
    device = colours.device
    weight = bary * confidence[:, None]
    flat = corner_vertex.reshape(-1)
    gathered = OrderedSum(flat, vertex_count)  # in a fixed order: the same colours every run on CUDA too
    total = gathered(bary.reshape(-1))
    trusted = gathered(weight.reshape(-1))
    summed = gathered((weight[:, :, None] * colours[:, None, :]).reshape(-1, colours.shape[1]))
    known = (trusted >= SEEN_VERTEX * total) & (trusted > 0)
    if not bool(known.any()):  # every view grazes the surface: hold whatever they give
        known = trusted > 0
    values = (summed / trusted.clamp(min=1e-12)[:, None]).cpu().double().numpy()
    known_np, trusted_np = known.cpu().numpy(), trusted.cpu().double().numpy()
    target = dominant_colour(values[known_np], trusted_np[known_np])
    return torch.as_tensor(harmonic_fill(faces, values, known_np, target), dtype=colours.dtype, device=device)
