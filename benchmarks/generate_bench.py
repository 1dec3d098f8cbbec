"""Generation benchmark: seconds per stage (median) and peak RSS, one 1024² view and four views.

    .venv/bin/python benchmarks/generate_bench.py [--runs 5] [--preset desktop] [--inputs DIR]

Inputs are the pybullet duck rendered at 1024² in our four views (one view: the front alone).
Each case runs in a fresh process (so its peak RSS is its own); the first run of each is a
warm-up and is left out of the medians. The shape field runs on CUDA when torch sees a GPU.
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


def run_case(views: list[str], folder: Path, runs: int, preset: str) -> dict:
    """In this process: ``runs`` generations; returns per-stage medians and peak RSS."""
    import torch
    from PIL import Image

    from inference.params import GenerationParams
    from inference.pipeline import generate_asset

    images = {v: Image.open(folder / f"{v}.png").convert("RGBA") for v in views}
    params = GenerationParams.resolve(preset)
    timings: list[dict[str, float]] = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        asset = generate_asset(images, params)
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
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--preset", default="desktop")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help="folder with front/left/back/right.png to use instead of rendering them")
    parser.add_argument("--write-inputs", help="render the inputs into this folder and stop")
    args = parser.parse_args()
    if args.case:
        views = ["front"] if args.case == "one" else ["front", "left", "back", "right"]
        print(json.dumps(run_case(views, Path(args.inputs), args.runs, args.preset)))
        return
    if args.write_inputs:
        make_inputs(Path(args.write_inputs))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.inputs) if args.inputs else Path(tmp)
        if not args.inputs:
            make_inputs(folder)
        results = {}
        for case in ("one", "four"):
            out = subprocess.run(
                [sys.executable, __file__, "--case", case, "--inputs", str(folder), "--runs", str(args.runs), "--preset", args.preset],
                capture_output=True,
                text=True,
                check=True,
            )
            results[case] = json.loads(out.stdout.strip().splitlines()[-1])
    first = results["one"]
    print(f"\ngenerate benchmark: preset {args.preset}, 1024² inputs, median of {args.runs} runs after a warm-up")
    print(f"device: {first['device']}, torch threads: {first['threads']}")
    stages = [s for s in first["medians"] if s not in ("total", "wall")]
    print(f"{'stage (s)':12}" + "".join(f"{s:>11}" for s in stages) + f"{'total':>9}{'peak RSS':>10}")
    for case, label in (("one", "1 view"), ("four", "4 views")):
        r = results[case]
        row = f"{label:12}" + "".join(f"{r['medians'][s]:11.2f}" for s in stages)
        print(row + f"{r['medians']['wall']:9.2f}{r['peak_rss_mb']:8.0f} MB   ({r['faces']} faces, {r['bytes']:,} bytes)")


if __name__ == "__main__":
    main()
