"""Tangent-space normal maps: the dense surface's shading detail baked onto the budget mesh.

The budget mesh keeps the dense surface's silhouette but loses its small bumps and creases; a normal
map gives them back to the shading. For every texel of the budget mesh's atlas: the closest point of
the dense surface (on the faces around its nearest vertex, found by a k-d tree),
the dense surface's normal there (interpolated), written in the texel's tangent frame.

The tangent frame is MikkTSpace's construction, the one glTF asks clients to compute when a file
carries no tangents (Blender, Unity and the glTF sample viewer do): per face, the direction of
increasing u, projected into each corner's normal plane and summed over a vertex's faces weighted by
the corner's angle; the bitangent's sign is the face's UV winding. A shader rebuilds the normal as
normalize(x·T + y·B + z·N) from the interpolated, unnormalised T, N and B = w·(N × T); the bake
inverts exactly that per texel, so a client with the same tangents shows the dense surface's normals.
Colours follow glTF: +X right (u), +Y up (v), +Z out of the surface, each mapped from [-1, 1] to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
import trimesh
from scipy.spatial import cKDTree

from inference.images.fill import push_pull_fill
from inference.mesh.bake import texel_corners
from inference.mesh.cleanup import unit_vertex_normals
from inference.mesh.raster import interpolate
from inference.mesh.uv import UnwrappedMesh
from inference.runtime.devices import torch_device

#: a vertex's faces looked at for the closest point: as many as any marching-cubes vertex has; a vertex
#: with more (a decimated or learned mesh's fan) keeps its first
MAX_VERTEX_FACES = 12
#: whose faces are searched: on the duck, 3 changed 0.01 % of texels by more than 2 levels of 255 and took 1.8× the time
NEAREST_VERTICES = 1
CHUNK = 1 << 17  # texels per batch of closest-point tests (K faces × 3 corners × 3 floats each)
#: the normal map's largest edge: the dense surfaces Meshmill meets hold ~250 (builtin) to ~1,000 (a learned
#: model's million faces) samples across, so a finer map adds bake time, not detail
MAX_SIZE = 1024
FLAT = (0.5, 0.5, 1.0)  # the colour of "no change": the budget mesh's own normal


def vertex_tangents(vertices: np.ndarray, faces: np.ndarray, uvs: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """(V, 4): a unit tangent (direction of increasing u, in the vertex's normal plane) and the bitangent's
    sign w (±1), per vertex of a mesh whose vertices are split along UV seams (``UnwrappedMesh``)."""
    v, f = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    uv, n = np.asarray(uvs, np.float64), np.asarray(normals, np.float64)
    p = v[f]
    t = uv[f]
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    d1, d2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    signed_area = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        along_u = (e1 * d2[:, 1:2] - e2 * d1[:, 1:2]) / signed_area[:, None]
    along_u[~np.isfinite(along_u).all(axis=1)] = 0.0
    along_u = _unit(along_u)
    tangent_sum = np.zeros_like(v)
    sign_sum = np.zeros(len(v))
    for k in range(3):
        corner = f[:, k]
        a, b = p[:, (k + 1) % 3] - p[:, k], p[:, (k + 2) % 3] - p[:, k]
        angle = np.arccos(np.clip(np.einsum("ij,ij->i", _unit(a), _unit(b)), -1.0, 1.0))
        normal = n[corner]
        projected = _unit(along_u - normal * np.einsum("ij,ij->i", along_u, normal)[:, None])
        np.add.at(tangent_sum, corner, projected * angle[:, None])
        np.add.at(sign_sum, corner, np.sign(signed_area) * angle)
    tangent = tangent_sum - n * np.einsum("ij,ij->i", tangent_sum, n)[:, None]
    missing = ~(np.linalg.norm(tangent, axis=1) > 1e-12)
    if missing.any():  # no UV direction at all (degenerate charts): any direction in the normal plane
        helper = np.where(np.abs(n[missing, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        tangent[missing] = np.cross(n[missing], helper)
    return np.concatenate([_unit(tangent), np.where(sign_sum < 0, -1.0, 1.0)[:, None]], axis=1)


def _unit(x: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, length, out=np.zeros_like(x), where=length > 0)


def closest_points(points: torch.Tensor, surface: DenseSurface, nearest: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each point, the nearest point on the faces around its ``nearest`` vertices (N, k): its face and
    barycentrics ``(face (N,), bary (N, 3))``. Each face's point is the point's foot on its plane, its
    barycentrics clamped onto the face (exact inside a face; beside an edge, a close stand-in)."""
    candidates = surface.vertex_faces[nearest].flatten(1)  # (N, k·K), -1 padded
    owner, slot = (candidates >= 0).nonzero(as_tuple=True)
    face = candidates[owner, slot]
    origin, edge_b, edge_c = surface.origin[face], surface.edge_b[face], surface.edge_c[face]
    ap = points[owner] - origin
    d20, d21 = (ap * edge_b).sum(-1), (ap * edge_c).sum(-1)
    d00, d01, d11 = surface.gram[face].unbind(dim=1)
    denominator = (d00 * d11 - d01 * d01).clamp(min=1e-30)
    v = (d11 * d20 - d01 * d21) / denominator
    w = (d00 * d21 - d01 * d20) / denominator
    bary = torch.stack([1 - v - w, v, w], dim=-1).clamp(min=0.0)
    bary = bary / bary.sum(dim=1, keepdim=True).clamp(min=1e-12)
    foot = origin + bary[:, 1:2] * edge_b + bary[:, 2:3] * edge_c
    distance = (foot - points[owner]).square().sum(dim=1)
    best = torch.full((len(points),), torch.inf, device=points.device).scatter_reduce(0, owner, distance, reduce="amin")
    pair = torch.arange(len(owner), device=points.device)
    first = torch.full((len(points),), len(owner), device=points.device).scatter_reduce(
        0, owner, torch.where(distance <= best[owner], pair, len(owner)), reduce="amin"
    )
    return face[first], bary[first]


def closest_on_surface(points: torch.Tensor, vertices: np.ndarray, surface: DenseSurface) -> tuple[torch.Tensor, torch.Tensor]:
    """For each point, its closest point on ``surface`` (whose vertex positions are ``vertices``), searched on the
    faces around its nearest vertex (a k-d tree), in chunks: the face ``(N,)`` and the barycentrics there ``(N, 3)``."""
    nearest = cKDTree(vertices).query(points.cpu().numpy(), k=[NEAREST_VERTICES], workers=-1)[1]
    nearest = torch.as_tensor(nearest, dtype=torch.long, device=points.device)
    face = torch.empty(len(points), dtype=torch.long, device=points.device)
    weights = torch.empty_like(points)
    for start in range(0, len(points), CHUNK):
        part = slice(start, start + CHUNK)
        face[part], weights[part] = closest_points(points[part], surface, nearest[part])
    return face, weights


@dataclass(frozen=True)
class DenseSurface:
    """The dense surface as the closest-point search reads it, on the bake's device."""

    faces: torch.Tensor  # (F, 3)
    normals: torch.Tensor  # (V, 3) unit vertex normals
    origin: torch.Tensor  # (F, 3) each face's first corner
    edge_b: torch.Tensor  # (F, 3) second corner − first
    edge_c: torch.Tensor  # (F, 3) third corner − first
    gram: torch.Tensor  # (F, 3) the edges' dot products b·b, b·c, c·c
    vertex_faces: torch.Tensor  # (V, K) the faces around each vertex, -1 padded

    @classmethod
    def of(cls, dense: trimesh.Trimesh, device: torch.device) -> DenseSurface:
        v, f = np.asarray(dense.vertices, np.float64), np.asarray(dense.faces, np.int64)
        origin, b, c = v[f[:, 0]], v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]
        gram = np.stack([(b * b).sum(1), (b * c).sum(1), (c * c).sum(1)], axis=1)

        def tensor(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x, dtype=torch.float32, device=device)

        return cls(
            torch.as_tensor(f, device=device), tensor(unit_vertex_normals(v, f)), tensor(origin), tensor(b), tensor(c), tensor(gram),
            torch.as_tensor(dense.vertex_faces[:, :MAX_VERTEX_FACES].copy(), device=device),  # trimesh caches it read-only
        )  # fmt: skip


def bake_normal_map(
    mesh: UnwrappedMesh,
    normals: np.ndarray,
    tangents: np.ndarray,
    dense: trimesh.Trimesh,
    size: int,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """An RGB uint8 tangent-space normal map of the dense surface on ``mesh`` (whose unit vertex normals are
    ``normals`` and tangents ``tangents``, from ``vertex_tangents``), ``size`` a side up to ``MAX_SIZE``;
    gutters filled by push-pull so mip-maps stay flat at the seams."""
    device = torch_device(device)
    size = min(size, MAX_SIZE)
    faces = torch.as_tensor(mesh.faces, dtype=torch.long, device=device)
    texels, tri, bary = texel_corners(faces, torch.as_tensor(mesh.uvs, dtype=torch.float32, device=device), size)

    position = interpolate(torch.as_tensor(mesh.vertices, dtype=torch.float32, device=device), tri, bary)
    normal, tangent, bitangent = texel_frames(normals, tangents, tri, bary)
    surface = DenseSurface.of(dense, device)
    face, weights = closest_on_surface(position, np.asarray(dense.vertices, np.float64), surface)
    detail = interpolate(surface.normals, surface.faces[face], weights)
    return encoded_atlas(in_tangent_space(detail, normal, tangent, bitangent), texels, size)


def texel_frames(normals: np.ndarray, tangents: np.ndarray, tri: torch.Tensor, bary: torch.Tensor):  # noqa: ANN201
    """Per texel (from ``texel_corners``): the interpolated normal, tangent and bitangent, as a shader makes them."""
    device = bary.device

    def at_texels(values: np.ndarray) -> torch.Tensor:
        table = torch.as_tensor(values, dtype=torch.float32, device=device)
        return interpolate(table, tri, bary)

    normal, tangent = at_texels(normals), at_texels(tangents[:, :3])
    sign = torch.as_tensor(tangents[:, 3], dtype=torch.float32, device=device)[tri[:, 0]]
    return normal, tangent, sign[:, None] * torch.linalg.cross(normal, tangent)


def in_tangent_space(detail: torch.Tensor, normal: torch.Tensor, tangent: torch.Tensor, bitangent: torch.Tensor) -> torch.Tensor:
    """Object-space normals ``detail`` (N, 3) written in each texel's tangent frame: x·T + y·B + z·N = d solved
    per texel (what the shader computes before it normalises), by Cramer's rule; unit, facing outwards."""
    device = detail.device
    cross = torch.linalg.cross
    rows = (cross(bitangent, normal), cross(normal, tangent), cross(tangent, bitangent))
    solved = torch.stack([(detail * row).sum(dim=1) for row in rows], dim=1)
    det = (tangent * rows[0]).sum(dim=1, keepdim=True)
    usable = det.abs() > 1e-8
    local = torch.where(usable, solved / torch.where(usable, det, 1.0), torch.tensor([0.0, 0.0, 1.0], device=device))
    local = F.normalize(local, dim=1, eps=1e-12)
    local[local[:, 2] < 0.05] = torch.tensor(FLAT, device=device) * 2 - 1  # facing away: a crease the budget mesh cannot show
    return local


def encoded_atlas(local: torch.Tensor, texels: torch.Tensor, size: int) -> np.ndarray:
    """Tangent-space normals at ``texels`` as an RGB uint8 size² map, gutters filled by push-pull."""
    return filled_atlas((local + 1) / 2, texels, size, FLAT)


def filled_atlas(values: torch.Tensor, texels: torch.Tensor, size: int, empty: tuple[float, ...]) -> np.ndarray:
    """(N, C) values in [0, 1] at ``texels`` as a uint8 size²×C image; the gutters filled by push-pull (from
    ``empty`` where nothing is near), so mip-maps and bilinear filtering at chart edges stay on the charts' values."""
    device = values.device
    image = torch.tensor(empty, dtype=torch.float32, device=device)[:, None].repeat(1, size * size)
    known = torch.zeros(size * size, dtype=torch.bool, device=device)
    image[:, texels] = values.T
    known[texels] = True
    image = push_pull_fill(image.view(len(empty), size, size), known.view(size, size))
    return (image.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
