"""Quad retopology: the dense surface remeshed into quads by Instant Meshes (``pynanoinstantmeshes``).

Instant Meshes with 4-RoSy / 4-PoSy fields makes a quad-dominant mesh and subdivides it once into pure quads,
so it returns about four quads per vertex asked for: ``quad_remesh`` asks for an eighth of the triangle
budget and steers from the count it gets. It returns an empty mesh, without an error, on some decimated,
anisotropic input; the dense surface (marching cubes, nearly isotropic) is what it is given first, and a
subdivided proxy of it when that fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import trimesh

from inference.mesh.cleanup import MeshError, orient_faces, sound_faces, within_budget

#: quads Instant Meshes returns per vertex asked for (measured 4.0–4.1 on spheres and the bundled samples)
QUADS_PER_VERTEX = 4.0
#: tries at steering the quad count into the budget; the closest is kept when none lands
STEERING_TRIES = 3


@dataclass(frozen=True)
class QuadSurface:
    mesh: trimesh.Trimesh  # the quads as triangles: quad i is faces 2i and 2i + 1 where both were sound
    polygon: np.ndarray  # (F,): the polygon of each face, the same for the two triangles of one quad


def quad_count(polygon: np.ndarray) -> int:
    """How many polygons are quads (two triangles) in a face-to-polygon map."""
    return int((np.bincount(polygon) == 2).sum())


def quad_remesh(dense: trimesh.Trimesh, target_faces: int) -> QuadSurface:
    """A quad mesh of the dense surface with about ``target_faces`` triangles (``target_faces / 2`` quads),
    wound outward. Raises ``MeshError`` when Instant Meshes makes nothing usable of the surface."""
    proxy, subdivided = dense, False
    ask, best = max(4, round(target_faces / 2 / QUADS_PER_VERTEX)), None
    for _ in range(STEERING_TRIES):
        surface = _remesh_once(proxy, ask)
        if surface is None and not subdivided:  # the proxy is made only when the dense surface fails
            proxy, subdivided = _subdivided_proxy(dense), True
            surface = _remesh_once(proxy, ask)
        if surface is None:
            break
        faces = len(surface.mesh.faces)
        if best is None or abs(faces - target_faces) < abs(len(best.mesh.faces) - target_faces):
            best = surface
        if within_budget(faces, target_faces):
            break
        ask = max(4, round(ask * target_faces / faces))
    if best is None:
        raise MeshError(f"quad retopology failed: Instant Meshes returned an empty or broken mesh for {len(dense.faces):,} faces")
    return best


def quad_shortfall(face_count: int, target_faces: int) -> str | None:
    """What to tell the user when the quad mesh missed its budget by more than ``FACE_TOLERANCE``, else None."""
    if within_budget(face_count, target_faces):
        return None
    return f"quad retopology made {face_count:,} faces ({face_count // 2:,} quads) of the {target_faces:,} asked"


def _remesh_once(proxy: trimesh.Trimesh, vertex_count: int) -> QuadSurface | None:
    import pynanoinstantmeshes  # deferred: only quad retopology needs it

    with _quiet_stdout():  # Instant Meshes reports every step on the C++ stdout
        vertices, quads = pynanoinstantmeshes.remesh(
            np.asarray(proxy.vertices, np.float32), np.asarray(proxy.faces, np.uint32), vertex_count, deterministic=True
        )
    vertices, quads = np.asarray(vertices, np.float64), np.asarray(quads, np.int64)
    if len(quads) == 0 or quads.ndim != 2 or quads.shape[1] != 4 or not np.isfinite(vertices).all() or quads.max() >= len(vertices):
        return None
    return _oriented(vertices, quads)


def _oriented(vertices: np.ndarray, quads: np.ndarray) -> QuadSurface | None:
    """The quads split along their first diagonal into triangles, the unsound ones dropped, wound outward
    as a whole (a quad turns with its first triangle)."""
    triangles = quads[:, [0, 1, 2, 0, 2, 3]].reshape(-1, 3)
    polygon = np.repeat(np.arange(len(quads)), 2)
    keep = sound_faces(vertices, triangles)
    if keep.sum() < 4:
        return None
    triangles, polygon = triangles[keep], polygon[keep]
    oriented = orient_faces(vertices, triangles)
    flipped = (oriented != triangles).any(axis=1)
    # the two triangles of a quad share its winding: a quad split by the orientation is not a quad
    split = np.zeros(len(quads), bool)
    np.logical_or.at(split, polygon, flipped)
    whole = np.zeros(len(quads), bool)
    np.logical_or.at(whole, polygon, ~flipped)
    mixed = split & whole
    polygon = np.where(mixed[polygon], len(quads) + np.arange(len(polygon)), polygon)  # each its own triangle
    _, polygon = np.unique(polygon, return_inverse=True)
    mesh = trimesh.Trimesh(vertices, oriented, process=False)
    mesh.remove_unreferenced_vertices()
    return QuadSurface(mesh, polygon.astype(np.int64))


def _subdivided_proxy(dense: trimesh.Trimesh) -> trimesh.Trimesh:
    """The dense surface with every edge longer than its median length split: a more even proxy for a
    surface a model server or a learned decoder handed over already decimated."""
    lengths = dense.edges_unique_length
    # at most six halvings of the longest edge: splitting a needle's length to its width could take millions of faces
    vertices, faces = trimesh.remesh.subdivide_to_size(
        dense.vertices, dense.faces, max_edge=max(float(np.median(lengths)), float(lengths.max()) / 2**6), max_iter=8
    )
    return trimesh.Trimesh(vertices, faces, process=True)


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def regularity(surface: QuadSurface) -> dict[str, float]:
    """Quad fraction (of the polygons) and regular-vertex fraction (interior vertices with four polygon
    edges), the two figures a retopology is judged by."""
    faces, n = np.asarray(surface.mesh.faces), len(surface.mesh.vertices)
    sizes = np.bincount(surface.polygon)
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    keys = edges[:, 0] * n + edges[:, 1]
    # a quad's diagonal is the one edge its own two triangles share: every other edge is a polygon edge
    rows, counts = np.unique(np.stack([keys, np.repeat(surface.polygon, 3)], axis=1), axis=0, return_counts=True)
    polygon_edges = np.unique(rows[counts == 1, 0])
    valence = np.bincount(polygon_edges // n, minlength=n) + np.bincount(polygon_edges % n, minlength=n)
    edge_keys, edge_counts = np.unique(keys, return_counts=True)
    boundary = np.zeros(n, bool)
    boundary[(edge_keys[edge_counts == 1] // n)] = True
    boundary[(edge_keys[edge_counts == 1] % n)] = True
    interior = ~boundary & (valence > 0)
    return {
        "quad_fraction": float((sizes == 2).mean()) if len(sizes) else 0.0,
        "regular_vertex_fraction": float((valence[interior] == 4).mean()) if interior.any() else 0.0,
    }
