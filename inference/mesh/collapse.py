"""Quadric edge-collapse decimation in torch, for the GPU: many collapses at once, each as the sequential one would.

fast-simplification (the CPU path, ``inference.mesh.cleanup.decimate``) collapses one edge at a time and cannot be
threaded; a 1.25 M-face surface from a learned backend takes it 2–3 s. Here every round collapses a set of edges no
two of which touch each other's neighbourhood, so their collapses are independent and run as tensor operations:

- each vertex carries the quadric of its faces' planes (Garland and Heckbert, 1997), area-weighted, plus planes
  across any open border so borders hold their line; a collapse's new vertex minimises the summed quadric of its two
  ends (the optimum where the system is well posed and near the edge, else the better end or the midpoint);
- an edge is picked when it is the cheapest of every edge touching either end or a neighbour of either end (among
  the edges earlier passes of the round left free): no two picked edges share a face or a neighbour, so no collapse
  changes what another one checks;
- a picked collapse is refused where it would tear the surface (its ends share other than the one or two vertices
  opposite the edge: the link condition; or it would lay a face on a face), pinch a border (two border vertices joined
  through the inside), or turn a face over or to a sliver; a refused edge waits until its neighbourhood changes;
- the last round takes only the cheapest collapses it needs, so the face count lands on the budget.

It keeps the surface's topology: holes of three or four edges are closed first (``close_small_holes``), and handles
stay, so ``handle_floor`` says how far a surface's handles let it go (``stop_at_handle_floor``: a noisy surface's
hundreds of tiny tunnels are collapsed that far here, and through by fast-simplification from there).
Slower than fast-simplification on a CPU (a round is a few dozen passes over the mesh): ``decimate`` uses it on CUDA.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from inference.runtime.ordered_sum import OrderedSum

#: a collapse may not turn a remaining face further than this from where it faced (cosine)
MIN_FACING = 0.2
#: ... nor leave it with less than this share of its area (a sliver)
MIN_AREA_SHARE = 0.05
#: the weight of a border's constraint planes against the surface's own (per unit of squared edge length)
BORDER_WEIGHT = 10.0
#: the optimal position is used only within this many edge lengths of the edge's midpoint
MAX_MOVE = 1.0
#: ... and where the quadric's system is this far from singular (its determinant against its scale cubed)
WELL_POSED = 1e-10
#: passes of the pick in a round (each picks among the edges the earlier ones left free)
PICK_PASSES = 3
#: the collapse keeps every handle, each with at least about this many faces ...
FACES_PER_HANDLE = 16
#: ... so it takes a surface only as far as its handles would hold at most this share of the faces left
HANDLE_SHARE = 0.05


def _plane_quadrics(v: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """(len(v), 4, 4): at each vertex, the area-weighted sum of its faces' plane quadrics."""
    cross = torch.linalg.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    double_area = cross.norm(dim=1, keepdim=True)
    normal = cross / double_area.clamp(min=1e-30)
    plane = torch.cat([normal, -(normal * v[f[:, 0]]).sum(dim=1, keepdim=True)], dim=1)
    face_q = (0.5 * double_area)[:, :, None] * plane[:, :, None] * plane[:, None, :]
    q = torch.zeros((len(v), 4, 4), dtype=v.dtype, device=v.device)
    for k in range(3):
        OrderedSum(f[:, k], len(v))(face_q, into=q)
    return q


def _face_edges(f: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every face's three edges as it runs them (3M, 2: u → w, face after face), the undirected edges' keys (low · n +
    high, sorted), which key each face edge is, and how many faces share each."""
    directed = torch.stack([f, f.roll(-1, dims=1)], dim=2).reshape(-1, 2)
    low, high = directed.min(dim=1).values, directed.max(dim=1).values
    keys, inverse, counts = torch.unique(low * n + high, return_inverse=True, return_counts=True)
    return directed, keys, inverse, counts


def _edges(f: torch.Tensor, n: int) -> tuple[torch.Tensor, ...]:
    """The undirected edges (E, 2) low index first, their keys (sorted), how many faces share each, and the sum and the
    least of the vertices opposite each edge in its faces (on a manifold edge: which two they are)."""
    _, keys, inverse, counts = _face_edges(f, n)
    opposite = f.roll(-2, dims=1).reshape(-1)  # the corner after each edge's two
    opposite_sum = torch.zeros_like(keys).index_add_(0, inverse, opposite)
    opposite_min = torch.full_like(keys, n).scatter_reduce(0, inverse, opposite, "amin")
    return torch.stack([keys // n, keys % n], dim=1), keys, counts, opposite_sum, opposite_min


def _border_quadrics(v: torch.Tensor, f: torch.Tensor, n: int) -> torch.Tensor:
    """(len(v), 4, 4): planes through each open border edge, across its face, weighted by the edge's squared length."""
    directed, _, inverse, counts = _face_edges(f, n)
    open_edge = counts[inverse] == 1
    q = torch.zeros((len(v), 4, 4), dtype=v.dtype, device=v.device)
    if not bool(open_edge.any()):
        return q
    face = torch.arange(len(f), device=f.device).repeat_interleave(3)[open_edge]
    a, b = directed[open_edge, 0], directed[open_edge, 1]
    face_normal = torch.linalg.cross(v[f[face, 1]] - v[f[face, 0]], v[f[face, 2]] - v[f[face, 0]])
    edge = v[b] - v[a]
    across = torch.linalg.cross(edge, face_normal)
    across = across / across.norm(dim=1, keepdim=True).clamp(min=1e-30)
    plane = torch.cat([across, -(across * v[a]).sum(dim=1, keepdim=True)], dim=1)
    weight = BORDER_WEIGHT * (edge * edge).sum(dim=1)
    edge_q = weight[:, None, None] * plane[:, :, None] * plane[:, None, :]
    OrderedSum(a, len(v))(edge_q, into=q)
    OrderedSum(b, len(v))(edge_q, into=q)
    return q


def _cost(q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    h = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
    return torch.einsum("ei,eij,ej->e", h, q, h).clamp(min=0)


def _placement(q: torch.Tensor, va: torch.Tensor, vb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each edge's collapse puts its vertex, and the quadric cost there. The optimum solves the quadric's 3 × 3
    system, inverted in closed form (the cofactors: batched solvers are slow on millions of tiny systems)."""
    mid = 0.5 * (va + vb)
    m, rhs = q[:, :3, :3], -q[:, :3, 3]
    cofactors = [torch.linalg.cross(m[:, 1], m[:, 2]), torch.linalg.cross(m[:, 2], m[:, 0]), torch.linalg.cross(m[:, 0], m[:, 1])]
    det = (m[:, 0] * cofactors[0]).sum(dim=1)
    scale = m.flatten(1).norm(dim=1)
    posed = det.abs() > WELL_POSED * scale**3
    solution = sum(c * rhs[:, k : k + 1] for k, c in enumerate(cofactors)) / torch.where(posed, det, 1.0)[:, None]
    length = (vb - va).norm(dim=1)
    near = posed & torch.isfinite(solution).all(dim=1) & ((solution - mid).norm(dim=1) <= MAX_MOVE * length)
    candidates = [va, vb, mid, torch.where(near[:, None], solution, mid)]
    costs = torch.stack([_cost(q, c) for c in candidates], dim=1)
    best = costs.argmin(dim=1)
    rows = torch.arange(len(q), device=q.device)
    return torch.stack(candidates, dim=1)[rows, best], costs[rows, best]


def _picked(edges: torch.Tensor, cost: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """Edges to collapse together: each the cheapest of every edge touching either end or a neighbour of either end,
    among the edges not yet ruled out; after each of PICK_PASSES passes, the edges touching a picked end's
    neighbourhood are ruled out and the rest are asked again (more collapses per round, none sharing a neighbour).
    Ties are broken at random, not by index: on a flat face every edge costs nothing, and by index only one edge in a
    long run would win. Edges of infinite cost are never picked."""
    shuffle = torch.randperm(len(cost), generator=generator, device=cost.device)
    rank = torch.empty_like(cost, dtype=torch.long)
    rank[shuffle[torch.argsort(cost[shuffle], stable=True)]] = torch.arange(len(cost), device=cost.device)
    a, b = edges[:, 0], edges[:, 1]
    free = torch.isfinite(cost)
    picked = torch.zeros_like(free)
    none = torch.full((n,), len(cost), dtype=torch.long, device=cost.device)
    for _ in range(PICK_PASSES):
        r = torch.where(free, rank, len(cost))
        near = none.scatter_reduce(0, a, r, "amin").scatter_reduce(0, b, r, "amin")  # the cheapest free edge at each vertex
        ring = near.scatter_reduce(0, a, near[b], "amin").scatter_reduce(0, b, near[a], "amin")  # ... at it or a neighbour
        new = free & (ring[a] == r) & (ring[b] == r)
        picked |= new
        end = torch.zeros(n, dtype=torch.bool, device=cost.device)
        end[a[new]] = True
        end[b[new]] = True
        region = end.clone()
        region[a[end[b]]] = True
        region[b[end[a]]] = True
        free &= ~(region[a] | region[b])
    return picked


def _still_refused(
    keys: torch.Tensor, a: torch.Tensor, b: torch.Tensor, refused: torch.Tensor, refused_in: torch.Tensor, changed: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which of this round's edges (``keys``, ends ``a`` and ``b``) were refused in an earlier round (``refused``, in
    rounds ``refused_in``) with neither end's neighbourhood changed since (``changed``: per vertex, the last round that
    changed it); and the round each was refused in (-1: never)."""
    when = torch.full_like(keys, -1)
    if len(refused):
        order = torch.argsort(refused)
        refused, refused_in = refused[order], refused_in[order]
        at = torch.searchsorted(refused, keys).clamp(max=len(refused) - 1)
        when = torch.where(refused[at] == keys, refused_in[at], -1)
    return (when >= 0) & (changed[a] < when) & (changed[b] < when), when


def close_small_holes(f: torch.Tensor, n: int) -> torch.Tensor:
    """``f`` with every hole of three or four border edges closed by one or two faces wound as its neighbours are.
    Marching cubes leaves a few non-manifold edges, the clean-up removes their faces, and the holes that opens are
    this small; fast-simplification happens to close them, the collapse would keep them. Larger openings stay."""
    directed, _, inverse, counts = _face_edges(f, n)
    border = directed[counts[inverse] == 1]  # u → w along a face; the hole runs w → u
    if not len(border):
        return f
    ones = torch.ones(len(border), dtype=torch.long, device=f.device)
    leaving = torch.zeros(n, dtype=torch.long, device=f.device).index_add_(0, border[:, 1], ones)
    arriving = torch.zeros(n, dtype=torch.long, device=f.device).index_add_(0, border[:, 0], ones)
    step = torch.full((n,), -1, dtype=torch.long, device=f.device)
    step[border[:, 1]] = border[:, 0]
    simple = (leaving == 1) & (arriving == 1)  # one way round the hole at this vertex
    start = border[:, 1][simple[border[:, 1]]]
    loop = [start]
    for _ in range(4):
        nxt = step[loop[-1]]
        loop.append(torch.where(nxt >= 0, nxt, loop[-1]))
    smallest = lambda corners: torch.stack(corners, dim=1).min(dim=1).values == start  # noqa: E731  (each hole once)
    triangle = (loop[3] == start) & (loop[1] != start) & (loop[2] != start) & smallest(loop[:3])
    quad = (loop[4] == start) & (loop[3] != start) & (loop[2] != start) & (loop[1] != start) & smallest(loop[:4])
    added = [
        torch.stack([loop[0], loop[1], loop[2]], dim=1)[triangle],
        torch.stack([loop[0], loop[1], loop[2]], dim=1)[quad],
        torch.stack([loop[0], loop[2], loop[3]], dim=1)[quad],
    ]
    return torch.cat([f, *added])


def _as_faces(faces: np.ndarray | torch.Tensor, device: torch.device | str) -> torch.Tensor:
    if isinstance(faces, torch.Tensor):
        return faces.to(device=torch.device(device), dtype=torch.long)
    return torch.as_tensor(np.ascontiguousarray(faces, dtype=np.int64), device=torch.device(device))


def handle_count(faces: np.ndarray | torch.Tensor, device: torch.device | str) -> int:
    """The handles of a closed surface in one piece, from its Euler characteristic (vertices − edges + faces = 2 − 2 ×
    handles); pieces add to it, so a surface in several pieces counts fewer. A noisy marching-cubes surface has
    hundreds of tiny handles (the voxels' noise opens tunnels through thin spots)."""
    f = _as_faces(faces, device)
    if not len(f):
        return 0
    edge_count = len(_face_edges(f, int(f.max()) + 1)[1])
    return max(0, (2 - (len(torch.unique(f)) - edge_count + len(f))) // 2)


def handle_floor(faces: np.ndarray | torch.Tensor, device: torch.device | str) -> int:
    """The fewest faces the collapse should leave of a surface: its handles, which it keeps, hold at most HANDLE_SHARE
    of them (0 for a surface without handles)."""
    return math.ceil(handle_count(faces, device) * FACES_PER_HANDLE / HANDLE_SHARE)


def decimate_parallel(
    vertices: np.ndarray, faces: np.ndarray, target_faces: int, device: torch.device | str, stop_at_handle_floor: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``vertices`` (N, 3) and ``faces`` (M, 3) collapsed to about ``target_faces`` faces on ``device`` (fewer
    collapses where the surface allows no more: the caller checks the budget). With ``stop_at_handle_floor``, no
    further than ``handle_floor`` (counted once its small holes are closed), and a surface whose floor is above half
    its faces comes back as given. Returns numpy arrays, vertices compacted."""
    device = torch.device(device)
    v = torch.as_tensor(np.ascontiguousarray(vertices, dtype=np.float64), device=device).clone()
    n = len(v)
    f = close_small_holes(_as_faces(faces, device), n)
    if stop_at_handle_floor:
        floor = handle_floor(f, device)
        if floor > len(f) // 2:
            return np.asarray(vertices), np.asarray(faces)
        target_faces = max(target_faces, floor)
    q = _plane_quadrics(v, f) + _border_quadrics(v, f, n)
    # the same mesh decimates the same way every time, on CUDA too: the quadrics are summed in a fixed order (``OrderedSum``)
    generator = torch.Generator(device=device).manual_seed(0)
    # edges whose collapse was refused (their keys, and the round): not tried again until a collapse changes either end's
    # neighbourhood (``changed``: the last round that did, per vertex)
    refused = torch.empty(0, dtype=torch.long, device=device)
    refused_in = torch.empty(0, dtype=torch.long, device=device)
    changed = torch.full((n,), -1, dtype=torch.long, device=device)
    round_ = 0
    while len(f) > target_faces:
        round_ += 1
        edges, keys, sharing, opposite_sum, opposite_min = _edges(f, n)
        a, b = edges[:, 0], edges[:, 1]
        border_vertex = torch.zeros(n, dtype=torch.bool, device=device)
        border_vertex[a[sharing == 1]] = True
        border_vertex[b[sharing == 1]] = True
        position, cost = _placement(q[a] + q[b], v[a], v[b])
        still, when = _still_refused(keys, a, b, refused, refused_in, changed)
        refused, refused_in = keys[still], when[still]
        allowed = (sharing <= 2) & ~(border_vertex[a] & border_vertex[b] & (sharing == 2)) & ~still
        cost = torch.where(allowed, cost, torch.inf)
        pick = _picked(edges, cost, n, generator).nonzero().squeeze(1)
        pick = pick[allowed[pick]]
        if not len(pick):
            break  # every edge left is refused: the surface allows no more
        # each vertex is an end of at most one picked edge: its partner, and the picked edge it belongs to
        partner = torch.full((n,), -1, dtype=torch.long, device=device)
        owner = torch.full((n,), -1, dtype=torch.long, device=device)
        partner[a[pick]], partner[b[pick]] = b[pick], a[pick]
        owner[a[pick]], owner[b[pick]] = pick, pick
        # the link condition: the ends share exactly the vertices opposite the edge in its faces
        ok = torch.ones(len(edges), dtype=torch.bool, device=device)
        common = torch.zeros(len(edges), dtype=torch.long, device=device)
        for end, other in ((a, b), (b, a)):
            at = partner[end] >= 0
            p, w = partner[end[at]], other[at]
            mask = w != p
            p, w, e = p[mask], w[mask], owner[end[at]][mask]
            k = torch.minimum(p, w) * n + torch.maximum(p, w)
            found = torch.searchsorted(keys, k).clamp(max=len(keys) - 1)
            common.index_add_(0, e, (keys[found] == k).long())
        ok[pick] = common[pick] == 2 * sharing[pick]  # each shared neighbour is met from both ends
        corner_owner = owner[f]
        owned = (corner_owner >= 0).sum(dim=1)
        # ... and where the two vertices opposite an inner edge are joined, that edge's own faces are not the edge's
        # two ends (a vertex of three faces over a face: the collapse would lay a second face on that one)
        going = (owned == 2).nonzero().squeeze(1)  # the faces of picked edges: they go
        going_edge = corner_owner[going].max(dim=1).values
        opposite = f[going].gather(1, (corner_owner[going] < 0).long().argmax(dim=1, keepdim=True)).squeeze(1)
        order = torch.argsort(going_edge, stable=True)
        going_edge, opposite = going_edge[order], opposite[order]
        pair = (going_edge[1:] == going_edge[:-1]).nonzero().squeeze(1)
        c1, c2, e = opposite[pair], opposite[pair + 1], going_edge[pair]
        k = torch.minimum(c1, c2) * n + torch.maximum(c1, c2)
        found = torch.searchsorted(keys, k).clamp(max=len(keys) - 1)
        joined = (keys[found] == k) & (opposite_sum[found] == a[e] + b[e]) & (opposite_min[found] == torch.minimum(a[e], b[e]))
        ok[e[joined]] = False
        # no remaining face turns over or to a sliver
        touched = owned == 1  # faces with both ends are the ones that go
        if bool(touched.any()):
            tf = f[touched]
            which = corner_owner[touched]
            e = which.max(dim=1).values
            before = torch.linalg.cross(v[tf[:, 1]] - v[tf[:, 0]], v[tf[:, 2]] - v[tf[:, 0]])
            after_v = v[tf].clone()
            hit = which >= 0
            after_v[hit] = position[which[hit]]
            after = torch.linalg.cross(after_v[:, 1] - after_v[:, 0], after_v[:, 2] - after_v[:, 0])
            nb, na = before.norm(dim=1), after.norm(dim=1)
            facing = (before * after).sum(dim=1) / (nb * na).clamp(min=1e-30)
            bad = (facing < MIN_FACING) | (na < MIN_AREA_SHARE * nb)
            ok[e[bad]] = False
        refused = torch.cat([refused, keys[pick[~ok[pick]]]])
        refused_in = torch.cat([refused_in, torch.full((int((~ok[pick]).sum()),), round_, dtype=torch.long, device=device)])
        pick = pick[ok[pick]]
        excess = len(f) - target_faces
        removed = sharing[pick]
        if int(removed.sum()) > excess:  # the last round: only the cheapest collapses it needs
            pick = pick[torch.argsort(cost[pick], stable=True)]
            pick = pick[: int((torch.cumsum(sharing[pick], 0) <= excess).sum())]
            if not len(pick):
                break  # one face over the budget, and every collapse takes two
        keep_end, drop_end = a[pick], b[pick]
        v[keep_end] = position[pick]
        q[keep_end] += q[drop_end]
        remap = torch.arange(n, device=device)
        remap[drop_end] = keep_end
        f = remap[f]
        f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
        kept = torch.zeros(n, dtype=torch.bool, device=device)
        kept[keep_end] = True
        changed[f[kept[f].any(dim=1)].flatten()] = round_  # the new vertices and their neighbours
    used, f = torch.unique(f, return_inverse=True)
    return v[used].cpu().numpy(), f.cpu().numpy()
