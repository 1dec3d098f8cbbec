"""Normal-map benchmark: how much closer a shaded render of the budget mesh comes to the dense surface's with
the baked normal map than without it, and what the bake costs.

    .venv/bin/python benchmarks/normal_map_bench.py [--preset mobile] [--size 512]

Objects: the bundled samples through the built-in generator (its dense surface is the smoothed
marching-cubes surface before decimation), and a learned-model-sized surface (the rippled, noisy
ellipsoid of ``generate_bench``'s finish case, 8.7 × 256² faces). Each is decimated to the preset's
budget and baked at its texture size. Renders are shading only — Lambert under one light from the upper
left front, plus a little ambient, grey — in the four views of our convention, orthographic, at
``--size``²; the dense surface's render is the reference. Shading uses the interpolated vertex normal,
or that normal perturbed by the map as a MikkTSpace shader does (normalize(x·T + y·B + z·N)). PSNR is
over the pixels both renders cover.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.generate_bench import noisy_surface  # noqa: E402

LIGHT = np.array([-0.4, 0.6, 0.7]) / np.linalg.norm([-0.4, 0.6, 0.7])
AMBIENT = 0.1


def shade(vertices, faces, normals, view: str, size: int, uvs=None, tangents=None, normal_map=None):  # noqa: ANN001
    """(size, size) grey shading and its coverage mask, from the interpolated (and mapped) normals."""
    from inference.mesh.raster import rasterize
    from inference.views import project

    v = torch.as_tensor(np.asarray(vertices), dtype=torch.float32)
    f = torch.as_tensor(np.asarray(faces), dtype=torch.long)
    px, py, toward = project(v, view, size)
    face, bary = rasterize(torch.stack([px, py], dim=1)[f], size, size, -toward[f])
    covered = face >= 0
    tri = f[face[covered]]
    b = bary[covered]

    def at(values) -> torch.Tensor:  # noqa: ANN001
        return (b[:, :, None] * torch.as_tensor(np.asarray(values), dtype=torch.float32)[tri]).sum(dim=1)

    normal = at(normals)
    if normal_map is not None:
        uv = at(uvs)
        image = torch.as_tensor(np.asarray(normal_map), dtype=torch.float32).permute(2, 0, 1) / 255.0
        grid = torch.stack([uv[:, 0] * 2 - 1, (1 - uv[:, 1]) * 2 - 1], dim=1)[None, None]
        x = F.grid_sample(image[None], grid, mode="bilinear", align_corners=False)[0, :, 0].T * 2 - 1
        tangent = at(np.asarray(tangents)[:, :3])
        sign = torch.as_tensor(np.asarray(tangents)[:, 3], dtype=torch.float32)[tri[:, 0]]
        bitangent = sign[:, None] * torch.linalg.cross(normal, tangent)
        normal = x[:, :1] * tangent + x[:, 1:2] * bitangent + x[:, 2:] * normal
    normal = F.normalize(normal, dim=1)
    light = torch.as_tensor(LIGHT, dtype=torch.float32)
    grey = torch.zeros(size, size)
    grey[covered] = AMBIENT + (1 - AMBIENT) * (normal @ light).clamp(min=0)
    return grey.numpy(), covered.numpy()


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    mse = float(np.mean((a[mask] - b[mask]) ** 2))
    return 10 * np.log10(1.0 / max(mse, 1e-12))


def measure(name: str, dense, params, size: int, mesh=None, polygon=None) -> dict:  # noqa: ANN001
    """Shading PSNR per view without and with the map; ``mesh`` (default: ``dense`` decimated to the budget) is
    the budget mesh, with its ``polygon`` map where quad retopology made it."""
    from inference.mesh.cleanup import budget_mesh, unit_vertex_normals
    from inference.mesh.normal_map import bake_normal_map, vertex_tangents
    from inference.mesh.uv import unwrap
    from inference.views import VIEW_NAMES

    mesh = budget_mesh(dense, params.target_faces) if mesh is None else mesh
    unwrapped = unwrap(mesh.vertices, mesh.faces, params.texture_size, params.uv_mode, polygon)
    normals = unit_vertex_normals(mesh.vertices, mesh.faces)[unwrapped.source_vertex]
    start = time.perf_counter()
    tangents = vertex_tangents(unwrapped.vertices, unwrapped.faces, unwrapped.uvs, normals)
    normal_map = bake_normal_map(unwrapped, normals, tangents, dense, params.texture_size, "cpu")
    seconds = time.perf_counter() - start
    dense_normals = unit_vertex_normals(dense.vertices, dense.faces)
    row = {"object": name, "dense": len(dense.faces), "faces": len(mesh.faces), "seconds": seconds, "plain": [], "mapped": []}
    for view in VIEW_NAMES:
        truth, truth_mask = shade(dense.vertices, dense.faces, dense_normals, view, size)
        plain, plain_mask = shade(unwrapped.vertices, unwrapped.faces, normals, view, size)
        mapped, _ = shade(unwrapped.vertices, unwrapped.faces, normals, view, size, unwrapped.uvs, tangents, normal_map)
        both = truth_mask & plain_mask
        row["plain"].append(psnr(plain, truth, both))
        row["mapped"].append(psnr(mapped, truth, both))
    return row


def main() -> None:
    import trimesh
    from PIL import Image

    from inference.generators import get_generator
    from inference.mesh.cleanup import dense_surface
    from inference.params import GenerationParams
    from inference.pipeline import clean_views, upscale_views

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="mobile")
    parser.add_argument("--size", type=int, default=512, help="render size of each view")
    args = parser.parse_args()
    params = GenerationParams.resolve(args.preset)
    generator = get_generator("builtin", "cpu")
    rows = []
    for path in sorted((ROOT / "samples").glob("*.[pj][np]g")):
        views = upscale_views(clean_views({"front": Image.open(path)}, params), params, "cpu")
        rows.append(measure(path.stem, dense_surface(*generator.generate(views, params)), params, args.size))
    rows.append(measure("noisy ellipsoid", trimesh.Trimesh(*noisy_surface(256)), params, args.size))
    print(f"\nnormal-map benchmark: preset {args.preset} ({params.target_faces:,} faces, {params.texture_size}² map), shading PSNR dB")
    print(f"{'object':18}{'dense':>10}{'budget':>8}{'bake s':>8}   {'without map (f/l/b/r)':>26}   {'with map (f/l/b/r)':>26}   gain")
    for r in rows:
        plain, mapped = "/".join(f"{p:.1f}" for p in r["plain"]), "/".join(f"{p:.1f}" for p in r["mapped"])
        gain = np.mean(r["mapped"]) - np.mean(r["plain"])
        print(f"{r['object']:18}{r['dense']:>10,}{r['faces']:>8,}{r['seconds']:8.2f}   {plain:>26}   {mapped:>26}   {gain:+.1f}")


if __name__ == "__main__":
    main()
