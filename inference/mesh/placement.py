"""Real-world size and pivot: where the finished asset stands and how big it is.

A prop comes out of the shape stage in the views' frame (its longest side 1.8 units, its centre at the origin).
Studios want it in metres, standing on its floor: ``pivot`` ``base`` puts the bottom centre of its bounding box at
the origin (it stands on y = 0 wherever it is dropped), ``centre`` the centre of the box; ``height`` scales it to
that many metres tall (left unset, a unit is a metre and the frame's size stays). One uniform scale and a
translation, so normals, tangents and texture coordinates are unchanged.
"""

from __future__ import annotations

import numpy as np

#: where the origin goes: the bottom centre of the bounding box (props stand on their floor) or its centre
PIVOTS = ("base", "centre")


def placement(vertices: np.ndarray, height: float | None, pivot: str) -> tuple[float, np.ndarray]:
    """``(scale, offset)`` that put ``vertices`` (V, 3; +Y up) at ``height`` metres with the origin at ``pivot``:
    placed = vertices · scale + offset."""
    if pivot not in PIVOTS:
        raise ValueError(f"pivot {pivot!r} is unknown: choose one of {', '.join(PIVOTS)}")
    lo, hi = np.min(vertices, axis=0), np.max(vertices, axis=0)
    extent = float(hi[1] - lo[1])
    scale = 1.0 if height is None or extent <= 0 else height / extent
    anchor = (lo + hi) / 2
    if pivot == "base":
        anchor[1] = lo[1]
    return scale, -anchor * scale


def placed(vertices: np.ndarray, scale: float, offset: np.ndarray) -> np.ndarray:
    return np.asarray(vertices, np.float64) * scale + offset
