"""Quad retopology benchmark: how regular the quads are, how close to the dense surface, how many survive
into the OBJ, what a normal map adds to them, and what it all costs — beside plain decimation.

    .venv/bin/python benchmarks/retopology_bench.py [--preset mobile] [--size 512] [--no-reference-set]

Objects: the bundled samples, and the front view of each object of the quality harness's reference set
(``meshmill eval --make-reference-set``; rendered here, needs the ``eval`` extra), through the built-in
generator: its dense surface is the smoothed marching-cubes surface before decimation. Per object:

- quad %: polygons that are quads; regular %: interior vertices with four edges (``remesh.regularity``);
- OBJ quads % with box and with xatlas UVs: quads written whole (a UV seam along a quad's diagonal splits it);
- distance from the dense surface: median and 95th percentile over 20,000 points sampled on the budget
  mesh, to the dense surface's nearest vertex, in % of the object's extent — for the quads and for the
  decimated triangles of the same budget;
- the normal map's shading gain on the quads (``normal_map_bench``: PSNR of shading-only renders against the
  dense surface's, mean of the four views, with the map minus without);
- seconds: quad retopology against decimation.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.normal_map_bench import measure  # noqa: E402


def front_views() -> dict[str, object]:
    """The reference set's objects seen from the front, as the harness renders them."""
    import trimesh
    from PIL import Image

    from inference.quality.evaluation import obj_texture, write_reference_set
    from inference.quality.render import render_views

    views = {}
    with tempfile.TemporaryDirectory() as folder:
        for obj in write_reference_set(Path(folder)):
            truth = trimesh.load(obj, force="mesh", process=False)
            half = 1.05 * float(np.abs(truth.bounds).max())
            render = render_views(obj, ("front",), size=512, half_extent=half, texture=obj_texture(obj))["front"]
            views[obj.stem] = Image.fromarray(render, "RGBA")
    return views


def distances(mesh, dense) -> tuple[float, float]:  # noqa: ANN001
    from scipy.spatial import cKDTree

    extent = float(np.ptp(dense.vertices, axis=0).max())
    gaps = cKDTree(dense.vertices).query(mesh.sample(20_000, seed=0))[0] / extent * 100
    return float(np.median(gaps)), float(np.percentile(gaps, 95))


def obj_quad_share(mesh, polygon, params, mode: str) -> float:  # noqa: ANN001
    from inference.mesh.export import _polygon_lines
    from inference.mesh.remesh import quad_count
    from inference.mesh.uv import unwrap

    unwrapped = unwrap(mesh.vertices, mesh.faces, params.texture_size, mode, polygon)
    lines = _polygon_lines(unwrapped.faces, polygon).splitlines()
    return sum(len(line.split()) == 5 for line in lines) / quad_count(polygon)


def main() -> None:
    from PIL import Image

    from inference.generators import get_generator
    from inference.mesh.cleanup import budget_mesh, dense_surface
    from inference.mesh.remesh import QuadSurface, quad_remesh, regularity
    from inference.params import GenerationParams
    from inference.pipeline import clean_views, upscale_views

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="mobile")
    parser.add_argument("--size", type=int, default=512, help="render size of each view for the shading gain")
    parser.add_argument("--no-reference-set", action="store_true", help="the bundled samples only")
    args = parser.parse_args()
    params = GenerationParams.resolve(args.preset, uv_mode="box")
    generator = get_generator("builtin", "cpu")
    images = {path.stem: Image.open(path) for path in sorted((ROOT / "samples").glob("*.[pj][np]g"))}
    if not args.no_reference_set:
        images.update({f"ref/{name}": image for name, image in front_views().items()})
    print(f"\nretopology benchmark: preset {args.preset} ({params.target_faces:,} faces = {params.target_faces // 2:,} quads)")
    head = f"{'object':18}{'faces':>7}{'quad %':>8}{'regular %':>10}{'OBJ quads % box/xatlas':>24}"
    print(head + f"{'dist quads med/95 %':>21}{'dist decim. med/95 %':>22}{'map gain dB':>12}{'s quads/decim.':>16}")
    for name, image in images.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            views = upscale_views(clean_views({"front": image}, params), params, "cpu")
            dense = dense_surface(*generator.generate(views, params))
            start = time.perf_counter()
            quads = quad_remesh(dense, params.target_faces)
            quad_seconds = time.perf_counter() - start
            start = time.perf_counter()
            decimated = budget_mesh(dense, params.target_faces)
            decimate_seconds = time.perf_counter() - start
            figures = regularity(QuadSurface(quads.mesh, quads.polygon))
            box, xatlas = (obj_quad_share(quads.mesh, quads.polygon, params, mode) for mode in ("box", "xatlas"))
            shading = measure(name, dense, params, args.size, quads.mesh, quads.polygon)
        gain = np.mean(shading["mapped"]) - np.mean(shading["plain"])
        (qm, q95), (dm, d95) = distances(quads.mesh, dense), distances(decimated, dense)
        print(
            f"{name:18}{len(quads.mesh.faces):>7,}{figures['quad_fraction'] * 100:>8.1f}{figures['regular_vertex_fraction'] * 100:>10.1f}"
            f"{f'{box * 100:.1f} / {xatlas * 100:.1f}':>24}{f'{qm:.2f} / {q95:.2f}':>21}{f'{dm:.2f} / {d95:.2f}':>22}"
            f"{gain:>+12.1f}{f'{quad_seconds:.2f} / {decimate_seconds:.2f}':>16}",
            flush=True,
        )


if __name__ == "__main__":
    main()
