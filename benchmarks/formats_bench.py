"""What each export format costs on top of the GLB: one finished asset, written as every format, side by side.

    .venv/bin/python benchmarks/formats_bench.py [--preset desktop] [--lods 0] [--runs 3]

Makes one asset from the bundled mug picture, then prints per format the seconds to write it (median after a
warm-up) and its size. The GLB is made by the finish itself (its seconds are the finish's export stage, shown for
scale); FBX runs Blender headless (its start-up is most of it); USD needs usd-core.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from PIL import Image

from inference.mesh.formats import FORMATS, Finished
from inference.params import GenerationParams
from inference.pipeline import generate_asset

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "mug.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="desktop")
    parser.add_argument("--lods", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asset = generate_asset({"front": Image.open(SAMPLE)}, GenerationParams.resolve(args.preset, lods=args.lods, height=1.0), name="mug")
    finished = Finished(asset.mesh, asset.glb, asset.lods, asset.polygon)
    print(f"{args.preset}: {asset.faces:,} faces, GLB {len(asset.glb):,} bytes, finish's export stage {asset.timings['export']:.2f} s")
    for name, export_format in FORMATS.items():
        try:
            if export_format.check is not None:
                export_format.check()
        except (RuntimeError, FileNotFoundError) as exc:
            print(f"{name}: skipped ({exc})")
            continue
        export_format.write(finished, "mug")  # warm-up
        times, size = [], 0
        for _ in range(args.runs):
            start = time.perf_counter()
            files = export_format.write(finished, "mug")
            times.append(time.perf_counter() - start)
            size = sum(len(data) for data in files.values())
        print(f"{name}: {statistics.median(times):.2f} s, {size:,} bytes in {len(files)} file(s)")


if __name__ == "__main__":
    main()
