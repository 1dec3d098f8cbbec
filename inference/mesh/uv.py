"""UV unwrapping with xatlas."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xatlas

#: charts are packed on a grid of at most this many cells a side, whatever the texture size: xatlas's packing
#: time grows with its resolution (hero, 60k faces: 4.0 s at 4096, 2.2 s at 1024) while the layout, in UV
#: units, stays as good (utilisation 0.64 → 0.68); the padding scales with it, so gutters keep their share
PACK_RESOLUTION = 1024


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
    packing.resolution = min(texture_size, PACK_RESOLUTION)
    packing.padding = max(2, packing.resolution // 256)
    packing.bilinear = True
    packing.rotate_charts = False  # same utilisation here, ~20 % less packing time
    packing.blockAlign = True
    atlas.generate(charts, packing)
    source_vertex, new_faces, uvs = atlas[0]
    return UnwrappedMesh(
        np.asarray(vertices)[source_vertex], new_faces.astype(np.int64), uvs.astype(np.float64), source_vertex.astype(np.int64)
    )
