"""How long a `meshmill` command takes to answer, start to finish, in a fresh process each time.

    .venv/bin/python benchmarks/cli_start_bench.py [--runs 5] [--meshmill .venv/bin/meshmill]

Times `meshmill --help`, `catalog find` and `catalog collections` on an empty catalog in a throwaway data folder,
and `ingest` of one picture: the commands a studio user and a script run most, where interpreter start and imports
are most of the wait. Prints the median and the fastest of ``--runs`` runs after a warm-up. Give ``--meshmill`` of
another checkout to compare two trees side by side in one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from PIL import Image

COMMANDS = {
    "--help": ["--help"],
    "catalog find": ["catalog", "find"],
    "catalog collections": ["catalog", "collections"],
    "ingest (one picture)": ["ingest", "{picture}"],
}


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--meshmill", action="append", help="a meshmill program to time (repeatable; default .venv/bin/meshmill)")
    args = parser.parse_args()
    programs = args.meshmill or [".venv/bin/meshmill"]
    with tempfile.TemporaryDirectory() as folder:
        picture = Path(folder, "prop.png")
        Image.new("RGB", (64, 64), (200, 60, 40)).save(picture)
        print(f"meshmill start-up: median (fastest) of {args.runs} runs after a warm-up, seconds")
        print(f"{'command':24}" + "".join(f"{p:>36}" for p in programs))
        for label, words in COMMANDS.items():
            row = f"{label:24}"
            for n, program in enumerate(programs):
                env = {**os.environ, "MESHMILL_HOME": str(Path(folder, f"home{n}"))}
                command = [program, *(w.format(picture=picture) for w in words)]
                timed(command, env)
                times = [timed(command, env) for _ in range(args.runs)]
                row += f"{statistics.median(times):>28.2f} ({min(times):.2f})"
            print(row)


if __name__ == "__main__":
    main()
