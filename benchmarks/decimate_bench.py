"""Decimation of a learned backend's dense surface: fast-simplification on the CPU against the parallel edge collapse
(``inference.mesh.collapse``) on CUDA and, with ``--collapse-on-cpu``, on the CPU — side by side in one run.

    .venv/bin/python benchmarks/decimate_bench.py [--grid 380] [--noise 0.004] [--targets 20000] [--runs 3] [--collapse-on-cpu]

The surface is the generation benchmark's "finish" input (a noisy marching-cubes ellipsoid, about 8.7 × grid²
faces; ``--noise 0.001`` keeps it free of handles) after the finish's clean-up (``dense_surface``). "decimate" is
what the finish does on CUDA: the collapse, as far as the surface's handles let it (``handle_floor``), then
fast-simplification for whatever the collapse leaves above the budget (with ``--collapse-on-cpu``, the same route
on the CPU too). For each method and budget: seconds (median of ``--runs`` after a warm-up), faces, edges shared by more than
two faces and open edges (the input has neither), whether every run gave the same mesh bit for bit, and the
distance between the result and the dense surface both ways (20,000 points sampled on one, their exact distance
to the other's nearest triangles), in % of the object's extent: mean and 99th percentile. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def point_triangle_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Distance from each point to its triangle (rows matched): the plane's where the foot falls inside, else the
    nearest edge's."""

    def to_segment(p: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        d = e - s
        t = np.clip(((p - s) * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-30), 0, 1)
        return np.linalg.norm(p - (s + t[..., None] * d), axis=-1)

    normal = np.cross(b - a, c - a)
    unit = normal / np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-30)
    height = ((points - a) * unit).sum(-1)
    foot = points - height[..., None] * unit
    inside = np.ones(height.shape, bool)
    for s, e in ((a, b), (b, c), (c, a)):
        inside &= (np.cross(e - s, foot - s) * normal).sum(-1) >= 0
    edges = np.minimum(np.minimum(to_segment(points, a, b), to_segment(points, b, c)), to_segment(points, c, a))
    return np.where(inside, np.abs(height), edges)


def surface_distance(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, nearest: int = 16) -> np.ndarray:
    """Each point's distance to the mesh, over the ``nearest`` triangles by centroid (exact for fine meshes)."""
    from scipy.spatial import cKDTree

    triangles = vertices[faces]
    _, candidates = cKDTree(triangles.mean(axis=1)).query(points, k=nearest)
    tri = triangles[candidates]
    return point_triangle_distance(points[:, None, :], tri[..., 0, :], tri[..., 1, :], tri[..., 2, :]).min(axis=1)


def scores(vertices: np.ndarray, faces: np.ndarray, dense) -> dict[str, float]:  # noqa: ANN001
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, process=False)
    _, sharing = np.unique(mesh.edges_sorted, axis=0, return_counts=True)
    extent = float(np.ptp(dense.vertices, axis=0).max()) / 100
    there = surface_distance(mesh.sample(20_000, seed=0), np.asarray(dense.vertices), np.asarray(dense.faces)) / extent
    back = surface_distance(dense.sample(20_000, seed=1), vertices, faces) / extent
    return {
        "faces": len(faces),
        "non-manifold": int((sharing > 2).sum()),
        "open": int((sharing == 1).sum()),
        "to dense": float(there.mean()),
        "to dense p99": float(np.percentile(there, 99)),
        "from dense": float(back.mean()),
        "from dense p99": float(np.percentile(back, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", type=int, default=380)
    parser.add_argument("--noise", type=float, default=0.004, help="the field's noise per voxel (0.004: ~940 tiny handles at 380³)")
    parser.add_argument("--targets", type=int, nargs="+", default=[20_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--collapse-on-cpu", action="store_true", help="also time the parallel collapse on the CPU (slow)")
    args = parser.parse_args()

    import fast_simplification  # noqa: F401  (imported before timing)
    import torch

    from benchmarks.generate_bench import noisy_surface
    from inference.mesh.cleanup import decimate, dense_surface
    from inference.mesh.collapse import decimate_parallel

    surface = noisy_surface(args.grid, args.noise)
    dense = dense_surface(*surface)
    vertices, faces = np.asarray(dense.vertices), np.asarray(dense.faces)
    if torch.cuda.is_available():  # the finish's clean-up of the same surface, again on CUDA: the same surface every run?
        again = [dense_surface(*surface, device="cuda") for _ in range(args.runs)]
        same = all(np.array_equal(d.vertices, dense.vertices) and np.array_equal(d.faces, dense.faces) for d in again)
        print(f"dense clean-up on cuda, {args.runs + 1} runs: {'the same' if same else 'not the same'} every run")
    devices = (["cuda"] if torch.cuda.is_available() else []) + (["cpu"] if args.collapse_on_cpu else [])
    methods = [("fast-simplification", "cpu")] + [("parallel collapse", d) for d in devices] + [("decimate", d) for d in devices]
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    print(f"dense surface: {len(faces):,} faces, Euler characteristic {dense.euler_number} (2: no handle); {gpu}")
    header = f"{'method':20} {'device':6} {'target':>7} {'seconds':>8} {'faces':>7} {'non-man.':>8} {'open':>5} {'same':>5}"
    print(f"{header}  distance in % of the extent: to dense (p99) / from dense (p99)")
    for target in args.targets:
        for name, device in methods:
            seconds, results = [], []
            for _ in range(args.runs + 1):
                if device == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                if name == "fast-simplification":
                    out = decimate(vertices, faces, target, "cpu")
                elif name == "parallel collapse":
                    out = decimate_parallel(vertices, faces, target, device)
                elif device == "cuda":  # what the finish does on CUDA: the collapse, and fast-simplification for what it leaves
                    out = decimate(vertices, faces, target, device)
                else:  # the same route with the collapse on the CPU (``decimate`` takes it only on CUDA)
                    out = decimate(*decimate_parallel(vertices, faces, target, device, stop_at_handle_floor=True), target, "cpu")
                seconds.append(time.perf_counter() - start)
                results.append(out)
            same = all(np.array_equal(v, results[0][0]) and np.array_equal(f, results[0][1]) for v, f in results[1:])
            s = scores(*out, dense)
            counts = f"{s['faces']:7d} {s['non-manifold']:8d} {s['open']:5d} {'yes' if same else 'no':>5}"
            distances = f"{s['to dense']:.4f} ({s['to dense p99']:.4f}) / {s['from dense']:.4f} ({s['from dense p99']:.4f})"
            print(f"{name:20} {device:6} {target:7d} {statistics.median(seconds[1:]):8.2f} {counts}  {distances}", flush=True)


if __name__ == "__main__":
    main()
