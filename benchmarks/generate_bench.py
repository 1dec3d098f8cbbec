"""Generation benchmark: seconds per stage (median) and peak RSS, one 1024² view, four views, and the
finish of a learned-model-sized mesh.

    .venv/bin/python benchmarks/generate_bench.py [--runs 5] [--preset desktop] [--inputs DIR] [--finish-grid 380] [--finish-noise 0.004]
                                                  [--devices cpu,cuda] [--uv-modes xatlas,box] [--set lods=3 ...]

Inputs are the pybullet duck rendered at 1024² in our four views (one view: the front alone).
"finish" is what Meshmill does after any backend: a noisy marching-cubes surface of about 1.25 M faces
(a 380³ grid: an ellipsoid with ripples and noise, as learned decoders return; the noise also opens ~940 tiny
handles, which ``--finish-noise 0.001 --finish-grid 460`` does not: a surface of the same size without them) taken
through clean-up, UVs, the bake (from the duck's front view) and export to the preset's GLB. Clean-up includes the
decimation, on the GPU with CUDA where the surface's handles allow (``inference.mesh.cleanup.decimate``).
Each case runs in a fresh process (so its peak RSS is its own) on each device asked for (default:
the CPU, and CUDA beside it when torch sees a GPU), so CPU and GPU figures come from one run; the
first run of each is a warm-up and is left out of the medians. The device is where torch works
(shape field, bake); clean-up, xatlas and encoding run on the CPU either way. ``--uv-modes xatlas,box``
runs every case in each UV mode, side by side; ``--set name=value`` sets any other parameter for every
case (``--set lods=3 --set remesh=quad --set keep_lighting=true``).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_inputs(folder: Path) -> dict[str, Path]:
    import pybullet_data

    from inference.quality.evaluation import obj_texture, write_reference
    from inference.quality.render import save_views

    data = Path(pybullet_data.getDataPath())
    obj = write_reference("duck", data / "duck.obj", data / "duckCM.png", "y", 90, folder / "ref")
    return save_views(obj, folder, size=1024, half_extent=1.3, texture=obj_texture(obj))


def noisy_surface(grid: int, noise: float = 0.004) -> tuple:
    """A dense, noisy marching-cubes surface in the views' frame (about 8.7 × grid² faces). The field's noise (per
    voxel, ``noise``) also makes tiny handles: at 380³ the surface has about 940 (its Euler characteristic is −1882)."""
    import numpy as np
    from skimage import measure

    axis = np.linspace(-1, 1, grid, dtype=np.float32)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij", sparse=True)
    field = np.sqrt((x / 0.8) ** 2 + (y / 0.9) ** 2 + (z / 0.6) ** 2) - 1 + 0.05 * np.sin(9 * x) * np.sin(7 * y) * np.sin(8 * z)
    field = field + np.random.default_rng(0).normal(0, noise, field.shape).astype(np.float32)
    vertices, faces, _, _ = measure.marching_cubes(field, 0.0, spacing=(2 / (grid - 1),) * 3)
    return vertices - 1, faces


def orient_comparison(mesh) -> dict[str, float]:  # noqa: ANN001
    """Seconds (best of 3) to wind the finished mesh's faces: trimesh's fix_normals against orient_faces."""
    import trimesh

    from inference.mesh.cleanup import orient_faces

    best = {}
    for name, wind in (("trimesh fix_normals", trimesh.repair.fix_normals), ("orient_faces", lambda m: orient_faces(m.vertices, m.faces))):
        runs = []
        for _ in range(3):
            copy = mesh.copy()
            start = time.perf_counter()
            wind(copy)
            runs.append(time.perf_counter() - start)
        best[name] = min(runs)
    return best


def device_label(device: str) -> str:
    import torch

    return torch.cuda.get_device_name(0) if device == "cuda" else f"cpu ({torch.get_num_threads()} threads)"


def settings(pairs: list[str]) -> dict:
    """``name=value`` pairs as GenerationParams fields: whole numbers as ints, true/false as booleans."""
    values = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        values[name] = {"true": True, "false": False}.get(text.lower(), int(text) if text.isdigit() else text)
    return values


def run_finish(folder: Path, runs: int, preset: str, grid: int, noise: float, device: str, uv_mode: str, extra: dict) -> dict:
    """In this process: ``runs`` finishes of one dense surface; per-stage medians and peak RSS."""
    from PIL import Image

    from inference.params import GenerationParams
    from inference.pipeline import clean_shape, clean_views, texture_mesh, upscale_views

    params = GenerationParams.resolve(preset, uv_mode=uv_mode, **extra)
    views = upscale_views(clean_views({"front": Image.open(folder / "front.png").convert("RGBA")}, params), params, device)
    vertices, faces = noisy_surface(grid, noise)
    timings: list[dict[str, float]] = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        shape = clean_shape(vertices, faces, params, device)
        times = {"cleanup": time.perf_counter() - start}
        textured = texture_mesh(shape, views, params, timings=times, device=device)
        times["wall"] = time.perf_counter() - start
        timings.append(times)
    timings = timings[1:]
    return {
        "orient": orient_comparison(shape.mesh),
        "views": 1,
        "input_faces": len(faces),
        "faces": len(textured.mesh.faces),
        "bytes": len(textured.glb),
        "medians": {stage: statistics.median(t[stage] for t in timings) for stage in timings[0]},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "device": device_label(device),
    }


def run_case(views: list[str], folder: Path, runs: int, preset: str, device: str, uv_mode: str, extra: dict) -> dict:
    """In this process: ``runs`` generations; returns per-stage medians and peak RSS."""
    from PIL import Image

    from inference.params import GenerationParams
    from inference.pipeline import generate_asset

    images = {v: Image.open(folder / f"{v}.png").convert("RGBA") for v in views}
    params = GenerationParams.resolve(preset, uv_mode=uv_mode, **extra)
    timings: list[dict[str, float]] = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        asset = generate_asset(images, params, device=device)
        asset.timings["wall"] = time.perf_counter() - start
        timings.append(asset.timings)
    timings = timings[1:]
    medians = {stage: statistics.median(t[stage] for t in timings) for stage in timings[0]}
    return {
        "views": len(views),
        "faces": asset.faces,
        "bytes": len(asset.glb),
        "medians": medians,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "device": device_label(device),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--preset", default="desktop")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    parser.add_argument("--uv-mode", default="xatlas", help=argparse.SUPPRESS)
    parser.add_argument("--uv-modes", default="xatlas", help="comma-separated UV modes to run every case in (xatlas, box)")
    parser.add_argument("--devices", help="comma-separated torch devices to run every case on (default: cpu, and cuda when present)")
    parser.add_argument("--inputs", help="folder with front/left/back/right.png to use instead of rendering them")
    parser.add_argument("--write-inputs", help="render the inputs into this folder and stop")
    parser.add_argument("--finish-grid", type=int, default=380, help="grid of the dense surface the finish case starts from (0: skip)")
    parser.add_argument(
        "--finish-noise", type=float, default=0.004, help="its field's noise per voxel (0.004: ~940 tiny handles at 380³; 0.001: none)"
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="another parameter for every case (repeatable)")
    args = parser.parse_args()
    extra = settings(args.set)
    if args.case == "finish":
        surface = (args.finish_grid, args.finish_noise)
        print(json.dumps(run_finish(Path(args.inputs), args.runs, args.preset, *surface, args.device, args.uv_mode, extra)))
        return
    if args.case:
        views = ["front"] if args.case == "one" else ["front", "left", "back", "right"]
        print(json.dumps(run_case(views, Path(args.inputs), args.runs, args.preset, args.device, args.uv_mode, extra)))
        return
    if args.write_inputs:
        make_inputs(Path(args.write_inputs))
        return
    if args.devices:
        devices = args.devices.split(",")
    else:
        import torch

        devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    cases = ("one", "four", "finish")[: 3 if args.finish_grid else 2]
    modes = args.uv_modes.split(",")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.inputs) if args.inputs else Path(tmp)
        if not args.inputs:
            make_inputs(folder)
        for case in cases:
            for device in devices:
                for mode in modes:
                    out = subprocess.run(
                        [sys.executable, __file__, "--case", case, "--inputs", str(folder), "--runs", str(args.runs)]
                        + ["--preset", args.preset, "--finish-grid", str(args.finish_grid), "--finish-noise", str(args.finish_noise)]
                        + ["--device", device, "--uv-mode", mode]
                        + [f"--set={pair}" for pair in args.set],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    results[case, device, mode] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\ngenerate benchmark: preset {args.preset} {' '.join(args.set)}, 1024² inputs, median of {args.runs} runs after a warm-up")
    for device in devices:
        print(f"{device}: {results['one', device, modes[0]]['device']}")
    stages = [s for s in results["one", devices[0], modes[0]]["medians"] if s not in ("total", "wall")]
    print(f"{'case':9}{'device':7}{'uv':7}" + "".join(f"{s:>11}" for s in stages) + f"{'total':>9}{'peak RSS':>10}")
    labels = (("one", "1 view"), ("four", "4 views"), ("finish", "finish"))
    for case, label in labels:
        for device in devices:
            for mode in modes:
                if (case, device, mode) not in results:
                    continue
                r = results[case, device, mode]
                cells = (f"{r['medians'][s]:11.2f}" if s in r["medians"] else f"{'–':>11}" for s in stages)
                row = f"{label:9}{device:7}{mode:7}" + "".join(cells)
                source = f"from {r['input_faces']:,} faces, " if "input_faces" in r else ""
                print(row + f"{r['medians']['wall']:9.2f}{r['peak_rss_mb']:8.0f} MB   ({source}{r['faces']} faces, {r['bytes']:,} bytes)")
    for case, label in labels:
        for mode in modes:
            walls = [results[case, d, mode]["medians"]["wall"] for d in devices if (case, d, mode) in results]
            if len(devices) > 1 and len(walls) == len(devices):
                print(f"{label}, {mode}: {devices[0]} / {devices[1]} = {walls[0] / walls[1]:.2f}×")
        for device in devices:
            walls = [results[case, device, m]["medians"]["wall"] for m in modes if (case, device, m) in results]
            if len(modes) > 1 and len(walls) == len(modes):
                print(f"{label}, {device}: {modes[0]} / {modes[1]} = {walls[0] / walls[1]:.2f}×")
    if ("finish", devices[0], modes[0]) in results:
        orient = results["finish", devices[0], modes[0]]["orient"]
        print("winding the finished mesh: " + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in orient.items()))


if __name__ == "__main__":
    main()
