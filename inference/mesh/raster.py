"""A small vectorised triangle rasteriser (numpy): which triangle covers each pixel, and where.

Used twice: in UV space, to find the surface point behind every texel, and in each orthographic
view, as a depth buffer that says which surface points the camera sees. Triangles are grouped by
the size of their bounding box so every candidate pixel is tested in one array operation.
"""

from __future__ import annotations

import numpy as np


def rasterize(
    corners: np.ndarray, height: int, width: int, depth: np.ndarray | None = None, chunk: int = 4_000_000
) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise triangles given in pixel coordinates (x right, y down; pixel centres at +0.5).

    corners: (F, 3, 2) float. depth: optional (F, 3), smaller is nearer; without it, where triangles
    overlap an arbitrary one wins (fine for a UV atlas, where they do not).
    Returns ``face`` (H, W) int32, -1 where empty, and ``bary`` (H, W, 3) float32 barycentrics.
    """
    face = np.full((height, width), -1, np.int32)
    bary = np.zeros((height, width, 3), np.float32)
    zbuf = np.full(height * width, np.inf, np.float64) if depth is not None else None
    corners = np.asarray(corners, np.float64)
    lo = np.floor(corners.min(axis=1) - 0.5).astype(np.int64)
    hi = np.ceil(corners.max(axis=1) - 0.5).astype(np.int64)
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, [width - 1, height - 1])
    span = hi - lo + 1
    visible = (span > 0).all(axis=1)
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    visible &= np.abs(area) > 1e-12
    faces = np.nonzero(visible)[0]
    if len(faces) == 0:
        return face, bary
    # bucket by bounding-box width and height (rounded up to 4 pixels) so padding wastes little
    box = (span[faces] + 3) // 4 * 4
    keys = box[:, 0] * 100_000 + box[:, 1]
    for key in np.unique(keys):
        members = faces[keys == key]
        box_w, box_h = int(key // 100_000), int(key % 100_000)
        per_chunk = max(1, chunk // (box_w * box_h))
        for start in range(0, len(members), per_chunk):
            _rasterize_bucket(members[start : start + per_chunk], box_w, box_h, lo, hi, corners, area, depth, face, bary, zbuf, width)
    return face, bary


def _rasterize_bucket(members, box_w, box_h, lo, hi, corners, area, depth, face, bary, zbuf, width) -> None:  # noqa: ANN001
    px = lo[members, 0, None, None] + np.arange(box_w)[None, None, :]  # (n, 1, box_w)
    py = lo[members, 1, None, None] + np.arange(box_h)[None, :, None]  # (n, box_h, 1)
    px, py = np.broadcast_arrays(px, py)
    inside_box = (px <= hi[members, 0, None, None]) & (py <= hi[members, 1, None, None])
    cx, cy = px + 0.5, py + 0.5
    a, b, c = (corners[members, k] for k in range(3))

    def edge(p, q):  # noqa: ANN001, ANN202
        return (q[:, 0, None, None] - p[:, 0, None, None]) * (cy - p[:, 1, None, None]) - (q[:, 1, None, None] - p[:, 1, None, None]) * (
            cx - p[:, 0, None, None]
        )

    inv = 1.0 / area[members, None, None]
    w0, w1, w2 = edge(b, c) * inv, edge(c, a) * inv, edge(a, b) * inv
    eps = -1e-7
    hit = inside_box & (w0 >= eps) & (w1 >= eps) & (w2 >= eps)
    n_idx, y_idx, x_idx = np.nonzero(hit)
    if len(n_idx) == 0:
        return
    flat = py[n_idx, y_idx, x_idx] * width + px[n_idx, y_idx, x_idx]
    weights = np.stack([w0[n_idx, y_idx, x_idx], w1[n_idx, y_idx, x_idx], w2[n_idx, y_idx, x_idx]], axis=1)
    face_ids = members[n_idx]
    if zbuf is not None:
        z = (weights * depth[face_ids]).sum(axis=1)
        order = np.lexsort((z, flat))  # nearest first within each pixel
        flat, z, weights, face_ids = flat[order], z[order], weights[order], face_ids[order]
        first = np.ones(len(flat), bool)
        first[1:] = flat[1:] != flat[:-1]
        flat, z, weights, face_ids = flat[first], z[first], weights[first], face_ids[first]
        nearer = z < zbuf[flat]
        flat, z, weights, face_ids = flat[nearer], z[nearer], weights[nearer], face_ids[nearer]
        zbuf[flat] = z
    face.reshape(-1)[flat] = face_ids
    bary.reshape(-1, 3)[flat] = weights
