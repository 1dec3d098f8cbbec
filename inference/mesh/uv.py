"""UV unwrapping: charts cut by xatlas, or by box projection, packed into one atlas by xatlas."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
import xatlas

#: charts are packed on a grid of at most this many cells a side, whatever the texture size: xatlas's packing
#: time grows with its resolution (hero, 60k faces: 4.0 s at 4096, 2.2 s at 1024) while the layout, in UV
#: units, stays as good (utilisation 0.64 → 0.68); the padding scales with it, so gutters keep their share
PACK_RESOLUTION = 1024
#: xatlas's chart area cap, in squared extents of the mesh, at CHART_AREA_FACES faces and above; below, the cap
#: grows as the face count falls (a small budget is quick to chart either way): a 1,200-face duck gets 31
#: charts instead of 199, whose seams had stopped its levels of detail at 592 faces (docs/how-to/formats.md, "Levels of detail")
CHART_AREA = 0.02
CHART_AREA_FACES = 20_000
#: for each of the six box directions (+X, −X, +Y, −Y, +Z, −Z): the axes that become (u, v) and their signs,
#: chosen so that every chart reads as seen from outside, not mirrored (+Z is the front view as drawn)
_BOX_AXES = np.array([[2, 1], [2, 1], [0, 2], [0, 2], [0, 1], [0, 1]])
_BOX_SIGNS = np.array([[-1, 1], [1, 1], [1, -1], [1, 1], [1, 1], [-1, 1]], np.float64)


@dataclass(frozen=True)
class UnwrappedMesh:
    vertices: np.ndarray  # (V', 3): the input vertices, duplicated along UV seams
    faces: np.ndarray  # (F, 3) into ``vertices``
    uvs: np.ndarray  # (V', 2) in [0, 1], v up (glTF flips it on export via trimesh)
    source_vertex: np.ndarray  # (V',) index of each vertex in the input mesh


def unwrap(
    vertices: np.ndarray, faces: np.ndarray, texture_size: int, mode: str = "xatlas", polygon: np.ndarray | None = None
) -> UnwrappedMesh:
    """Charts and a packed atlas for a ``texture_size``² texture, with padding between charts.

    ``mode``: ``xatlas`` grows charts over the surface (fewer, rounder charts); ``box`` cuts them by
    projection (``box_charts``) and leaves xatlas only the packing, which bounds the time on big budgets
    (docs/benchmarks.md, "Generation speed"). In ``xatlas`` mode chart area is capped: without the cap xatlas spends
    most of its time growing a few huge charts (about 1.3 s against 0.3 s at 20k faces), and smaller
    charts bake just as well; under 20k faces the cap grows (``CHART_AREA_FACES``), for fewer seams.
    ``polygon`` (the polygon of each face, from quad retopology) keeps a polygon's faces in one box chart,
    so no box seam cuts a quad (xatlas's charts cut a few).
    """
    atlas = xatlas.Atlas()
    charts = xatlas.ChartOptions()
    if mode == "box":
        projected, chart_faces, chart_vertex = box_charts(vertices, faces, polygon)
        atlas.add_uv_mesh(projected.astype(np.float32), chart_faces.astype(np.uint32))
    elif mode == "xatlas":
        atlas.add_mesh(np.asarray(vertices, np.float32), np.asarray(faces, np.uint32))
        chart_vertex = np.arange(len(vertices))
        extent = float(np.ptp(vertices, axis=0).max()) or 1.0
        charts.max_chart_area = CHART_AREA * extent * extent * max(1.0, CHART_AREA_FACES / max(len(faces), 1))
        charts.max_iterations = 1
    else:
        raise ValueError(f"UV mode {mode!r} is unknown: choose xatlas or box")
    packing = xatlas.PackOptions()
    packing.resolution = min(texture_size, PACK_RESOLUTION)
    packing.padding = max(2, packing.resolution // 256)
    packing.bilinear = True
    packing.rotate_charts = False  # same utilisation here, ~20 % less packing time
    packing.blockAlign = True
    atlas.generate(charts, packing)
    mapped, new_faces, uvs = atlas[0]
    source_vertex = chart_vertex[mapped].astype(np.int64)
    return UnwrappedMesh(np.asarray(vertices)[source_vertex], new_faces.astype(np.int64), uvs.astype(np.float64), source_vertex)


def box_charts(vertices: np.ndarray, faces: np.ndarray, polygon: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Box-projection charts: each face goes to the one of six directions (±X, ±Y, ±Z) it faces most, and a
    chart is a run of edge-connected faces of one direction, projected flat along it (UVs in model units,
    so every chart keeps the same texel density). With ``polygon``, a polygon's faces go where their
    summed normal faces, together.

    Returns ``(uvs (C, 2), faces (F, 3) into them, the input vertex of each of the C chart vertices)``: a
    vertex on a chart border is one chart vertex per chart. Within a chart every face's projected area is
    at least 1/√3 of its own, so no face collapses; a chart that winds over itself (a helix) would overlap.
    """
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    normals = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    if polygon is not None:
        normals = np.stack([np.bincount(polygon, weights=normals[:, k]) for k in range(3)], axis=1)[polygon]
    axis = np.abs(normals).argmax(axis=1)
    direction = 2 * axis + (normals[np.arange(len(f)), axis] < 0)
    pairs = trimesh.graph.face_adjacency(f)
    chart = trimesh.graph.connected_component_labels(pairs[direction[pairs[:, 0]] == direction[pairs[:, 1]]], node_count=len(f))
    keys, chart_faces = np.unique((chart[:, None] * len(v) + f).ravel(), return_inverse=True)
    chart_vertex = keys % len(v)
    chart_direction = np.empty(chart.max() + 1, np.int64)
    chart_direction[chart] = direction
    vertex_direction = chart_direction[keys // len(v)]
    uvs = np.take_along_axis(v[chart_vertex], _BOX_AXES[vertex_direction], axis=1) * _BOX_SIGNS[vertex_direction]
    # side by side, so that no two charts lie on each other (xatlas keeps UVs that overlap in one chart:
    # a symmetric object's opposite sides project to the same place)
    owner = keys // len(v)
    low = np.full((chart.max() + 1, 2), np.inf)
    high = np.full((chart.max() + 1, 2), -np.inf)
    np.minimum.at(low, owner, uvs)
    np.maximum.at(high, owner, uvs)
    width = high[:, 0] - low[:, 0]
    start = np.concatenate([[0.0], np.cumsum(width + 0.01 * width.max())[:-1]])
    uvs = uvs - low[owner] + np.stack([start[owner], np.zeros(len(owner))], axis=1)
    return uvs, chart_faces.reshape(-1, 3), chart_vertex
