"""What view sets cost: `meshmill convert` on N four-view objects against the same N objects' fronts alone.

    .venv/bin/python benchmarks/view_sets_bench.py [--objects 10] [--size 512] [--preset mobile]

The pybullet duck is rendered in our four views, then each object gets its own tint so every picture is
distinct. The same objects go through `meshmill ingest` and then `meshmill convert` (builtin backend, one
variant) twice, each in a fresh home: as single images (their fronts) and as view sets (a folder per
object). Each command is timed whole, in a fresh process, as a user waits for it. Prints a table;
nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.orchestration_bench import fresh_env, timed  # noqa: E402

VIEWS = ("front", "left", "back", "right")


def write_objects(folder: Path, count: int, size: int) -> None:
    """``folder/fronts/object_NN.png`` and ``folder/sets/object_NN/<view>.png`` for ``count`` tinted ducks."""
    import numpy as np
    import pybullet_data
    from PIL import Image

    from inference.quality.evaluation import obj_texture, write_reference
    from inference.quality.render import render_views

    data = Path(pybullet_data.getDataPath())
    obj = write_reference("duck", data / "duck.obj", data / "duckCM.png", "y", 90, folder / "reference")
    renders = render_views(obj, VIEWS, size=size, half_extent=1.3, texture=obj_texture(obj))
    (folder / "fronts").mkdir(parents=True)
    for n in range(count):
        tint = np.array([1.0 - 0.04 * n, 1.0, 0.6 + 0.04 * n, 1.0])
        (folder / "sets" / f"object_{n:02d}").mkdir(parents=True)
        for view, rgba in renders.items():
            image = Image.fromarray(np.clip(rgba * tint, 0, 255).astype(np.uint8), "RGBA")
            image.save(folder / "sets" / f"object_{n:02d}" / f"{view}.png")
            if view == "front":
                image.save(folder / "fronts" / f"object_{n:02d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=10)
    parser.add_argument("--size", type=int, default=512, help="pixels per view")
    parser.add_argument("--preset", default="mobile")
    args = parser.parse_args()
    meshmill = str(Path(sys.executable).with_name("meshmill"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_objects(root, args.objects, args.size)
        rows = []
        for label, inputs in (("single images (fronts)", root / "fronts"), ("four-view sets", root / "sets")):
            env = fresh_env(root / f"run-{len(rows)}")
            timed([meshmill, "variant", "add", args.preset, "--preset", args.preset], env)
            ingest = timed([meshmill, "ingest", str(inputs)], env)
            convert = timed([meshmill, "convert", str(inputs), "--variant", args.preset], env)
            rows.append((label, ingest, convert))
    print(f"{args.objects} objects, {args.size}² views, builtin {args.preset}, one worker; wall seconds")
    print(f"{'input':24} {'ingest':>8} {'convert':>8} {'per object':>11}")
    for label, ingest, convert in rows:
        print(f"{label:24} {ingest:8.1f} {convert:8.1f} {convert / args.objects:11.2f}")
    print(f"four views / one view, convert: {rows[1][2] / rows[0][2]:.2f}×")


if __name__ == "__main__":
    main()
