"""UV unwrapping with xatlas."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xatlas


@dataclass(frozen=True)
class UnwrappedMesh:
    vertices: np.ndarray  # (V', 3): the input vertices, duplicated along UV seams
    faces: np.ndarray  # (F, 3) into ``vertices``
    uvs: np.ndarray  # (V', 2) in [0, 1], v up (glTF flips it on export via trimesh)
    source_vertex: np.ndarray  # (V',) index of each vertex in the input mesh


def unwrap(vertices: np.ndarray, faces: np.ndarray, texture_size: int) -> UnwrappedMesh:
    """Charts and a packed atlas for a ``texture_size``² texture, with padding between charts.

    Chart area is capped: without the cap xatlas spends most of its time growing a few huge
    charts (about 1.3 s against 0.3 s at 20k faces), and smaller charts bake just as well.
    """
    atlas = xatlas.Atlas()
    atlas.add_mesh(np.asarray(vertices, np.float32), np.asarray(faces, np.uint32))
    charts = xatlas.ChartOptions()
    extent = float(np.ptp(vertices, axis=0).max()) or 1.0
    charts.max_chart_area = 0.02 * extent * extent
    charts.max_iterations = 1
    packing = xatlas.PackOptions()
    packing.resolution = texture_size
    packing.padding = max(2, texture_size // 256)
    packing.bilinear = True
    packing.rotate_charts = False  # same utilisation here, ~20 % less packing time
    packing.blockAlign = True
    atlas.generate(charts, packing)
    source_vertex, new_faces, uvs = atlas[0]
    return UnwrappedMesh(
        np.asarray(vertices)[source_vertex], new_faces.astype(np.int64), uvs.astype(np.float64), source_vertex.astype(np.int64)
    )
