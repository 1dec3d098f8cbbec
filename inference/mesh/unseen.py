"""Colour for the surface no view sees: carried across the mesh from the surface that is seen.

A prop drawn once from the front shows nothing of its back. Taking the front's colour straight through the
object put the front's eyes, labels and patterns on the back, mirrored. Here the colours the views give are
gathered onto the mesh's vertices, and every vertex no view sees squarely takes the harmonic interpolation of
the seen ones (each unseen vertex the mean of its neighbours, the seen ones held fixed): colour flows in over
the surface from the rim and the sides, smoothly, never through the object, so no interior feature of a view
reaches a side it was not drawn on. Away from the rim the fill settles on the seen surface's dominant colour
(screened: each unseen vertex also pulled a little toward it), not on the average of the rim: the back of a
white ball with black patches is white, not grey. Seams need no care: the vertices are the welded surface's,
on which a seam does not exist. The fill is the surface's, not its triangulation's: the mean is weighted by the
surface's cotangent weights and the pull by each vertex's area, so that the rim's colours reach a set distance over
the surface (``REACH``) whether the budget is 5k faces or 40k, and the decimator's long triangles on a flat back
do not carry them further (with one weight per edge, the same teddy's back was 0.83 grey at 5k faces and 0.87 at
20k).
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
#: without the surface's geometry (``harmonic_fill`` given no vertices): the pull of every unseen vertex toward
#: the target, against its neighbours' weight of about 6: the rim's colours fade into it over roughly
#: sqrt(6 / PULL) edges; it also keeps a part of the mesh that touches no seen vertex solvable
PULL = 0.01
#: with the surface's own geometry: how far over the surface the rim's colours reach before the dominant one rules,
#: as a fraction of the square root of the surface's area (about what PULL gave at a 20k-face budget)
REACH = 0.12
#: each edge's least weight, against the mean cotangent weight: no edge of the surface is cut off; and its most,
#: where a sliver's angle is near zero
FLOOR = 1e-3
COT_MAX = 1e3
#: the vertices' colours are gathered from at most this many texels, evenly strided (they come in raster order,
#: so they stay spread over the atlas): ten or more a vertex at a 20k-face budget, a quarter of a 1024² bake's
GATHER_SAMPLES = 262_144
#: the dominant colour is found in the fullest box of the seen colours 1/DOMINANT_BINS of the range wide a channel
DOMINANT_BINS = 6
#: at most this many mean-shift steps from the fullest box to the colour it holds most of
SHIFTS = 10


def texel_confidence(weight_sum: torch.Tensor) -> torch.Tensor:
    """How far each texel's own views are trusted, 0–1, from their summed weights."""
    return (weight_sum / CONFIDENT).clamp(0.0, 1.0)


def dominant_colour(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The commonest colour of ``values`` (N, C, 0–1), by ``weights``: the fullest box a DOMINANT_BINS-th of the
    range wide per channel, placed anywhere on a grid of half that step (so that a colour lying on a cell's edge is
    not split in two and lost to a smaller one), then moved to the weighted mean of the values within it until it
    settles (a mean shift)."""
    channels, fine = values.shape[1], 2 * DOMINANT_BINS
    cells = np.clip((values * fine).astype(np.int64), 0, fine - 1)
    counts = np.bincount(np.ravel_multi_index(cells.T, (fine,) * channels), weights=weights, minlength=fine**channels)
    counts = counts.reshape((fine,) * channels)
    for axis in range(channels):  # each box: two fine cells a channel
        counts = np.take(counts, range(fine - 1), axis=axis) + np.take(counts, range(1, fine), axis=axis)
    low = np.array(np.unravel_index(np.argmax(counts), counts.shape)) / fine
    half = 0.5 / DOMINANT_BINS
    mode = low + half
    for _ in range(SHIFTS):
        near = np.abs(values - mode).max(axis=1) <= half
        if not near.any():
            break
        moved = np.average(values[near], axis=0, weights=weights[near] + 1e-12)
        settled = np.abs(moved - mode).max() < 1e-4
        mode = moved
        if settled:
            break
    return mode


def surface_laplacian(vertices: np.ndarray, faces: np.ndarray) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
    """The surface's cotangent edge weights (V × V, symmetric; a weight below zero, at an obtuse angle, taken as
    zero, so that a fill never overshoots its known values) and each vertex's area (a third of its faces')."""
    count = len(vertices)
    corners = vertices[faces]  # (F, 3 corners, 3)
    weights, rows, cols = [], [], []
    for k in range(3):  # the angle at corner k faces the edge between the other two corners
        i, j = (k + 1) % 3, (k + 2) % 3
        a, b = corners[:, i] - corners[:, k], corners[:, j] - corners[:, k]
        cross = np.linalg.norm(np.cross(a, b), axis=1)
        cot = np.einsum("ij,ij->i", a, b) / np.maximum(cross, 1e-12)
        weights.append(np.clip(0.5 * cot, 0.0, COT_MAX))
        rows.append(faces[:, i])
        cols.append(faces[:, j])
    w, r, c = np.concatenate(weights), np.concatenate(rows), np.concatenate(cols)
    pairs = (np.concatenate([r, c]), np.concatenate([c, r]))
    weight = scipy.sparse.csr_matrix((np.concatenate([w, w]), pairs), shape=(count, count))  # an edge's two halves summed
    # a floor keeps every edge joined where its angles are all obtuse or its triangles have no area (one entry an edge,
    # zeros kept: the clipped weights are stored)
    weight.data += FLOOR * (w.mean() if len(w) else 1.0)
    face_area = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    area = np.bincount(faces.ravel(), weights=np.repeat(face_area / 3.0, 3), minlength=count)
    return weight, area


def harmonic_fill(
    faces: np.ndarray,
    values: np.ndarray,
    known: np.ndarray,
    target: np.ndarray | None = None,
    pull: float = PULL,
    vertices: np.ndarray | None = None,
) -> np.ndarray:
    """``values`` (V, C) with every vertex where ``known`` (V,) is False replaced by the harmonic
    interpolation of the known ones over the mesh's edges, screened: each also pulled toward ``target`` (C,)
    (default: the known values' mean).

    With ``vertices`` (V, 3), the surface's: the interpolation is the surface's own (cotangent weights), and the
    pull is set by a distance over the surface, ``REACH`` of the square root of its area, however it is
    triangulated. Without, every edge weighs 1 and ``pull`` is each vertex's weight toward the target."""
    count = len(values)
    unknown = ~known
    if not known.any():
        return np.broadcast_to(values.mean(axis=0) if target is None else target, values.shape).copy()
    if not unknown.any():
        return values
    if vertices is None:
        edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        edges = np.unique(np.sort(edges, axis=1), axis=0)
        rows, cols = np.concatenate([edges[:, 0], edges[:, 1]]), np.concatenate([edges[:, 1], edges[:, 0]])
        adjacency = scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(count, count))
        screen = np.full(count, pull)
    else:
        adjacency, area = surface_laplacian(np.asarray(vertices, np.float64), faces)
        reach = REACH * np.sqrt(max(area.sum(), 1e-12))
        screen = area / reach**2 + 1e-9  # a part of no area, touching nothing seen, still solvable: it takes the target
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    laplacian = scipy.sparse.diags(degree + screen) - adjacency
    u, k = np.flatnonzero(unknown), np.flatnonzero(known)
    target = values[known].mean(axis=0) if target is None else np.asarray(target, np.float64)
    rhs = adjacency[u][:, k] @ values[k] + screen[u, None] * target[None, :]
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
    vertices: np.ndarray,
) -> torch.Tensor:
    """A colour (V, C) for every welded vertex: the texels' views' colours gathered onto the vertices (where
    ``confidence`` holds), carried over the surface to the rest (``harmonic_fill``). A texel's fill is then
    its face's corners' colours by its barycentrics.

    ``corner_vertex`` (N, 3): each texel's face's corners on the welded mesh (``faces`` on ``vertices``);
    ``bary`` (N, 3) its barycentrics; ``colours`` (N, C) its views' colours (anything where ``confidence`` is 0).
    Any subset of the texels will do (``gather_samples``)."""
    device = colours.device
    weight = bary * confidence[:, None]
    flat = corner_vertex.reshape(-1)
    gathered = OrderedSum(flat, len(vertices))  # in a fixed order: the same colours every run on CUDA too
    total = gathered(bary.reshape(-1))
    trusted = gathered(weight.reshape(-1))
    summed = gathered((weight[:, :, None] * colours[:, None, :]).reshape(-1, colours.shape[1]))
    known = (trusted >= SEEN_VERTEX * total) & (trusted > 0)
    if not bool(known.any()):  # every view grazes the surface: hold whatever they give
        known = trusted > 0
    values = (summed / trusted.clamp(min=1e-12)[:, None]).cpu().double().numpy()
    known_np, trusted_np = known.cpu().numpy(), trusted.cpu().double().numpy()
    target = dominant_colour(values[known_np], trusted_np[known_np])
    return torch.as_tensor(harmonic_fill(faces, values, known_np, target, vertices=vertices), dtype=colours.dtype, device=device)
