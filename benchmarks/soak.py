"""Soak: a large batch through `meshmill convert --workers 2` while convert and its workers are killed at random.

    .venv/bin/python benchmarks/soak.py [--images 500] [--kills 12] [--seed 0] [--json]

Makes ``--images`` distinct pictures (the bundled samples, one pixel changed in each), then runs `convert`
over them again and again until one ends with exit 0, `kill -9`ing, at random moments, either convert itself
(then waiting for its workers to go, and starting it again, as a user would) or one of its worker processes
(the batch goes on), ``--kills`` times in all. Everything is on this machine: a throwaway MESHMILL_HOME and
DAGSTER_HOME under a temporary folder. Then `meshmill catalog check --deep` and the catalog itself say
whether every output was made exactly once (one succeeded attempt each) and every blob is what was written.
Prints the figures (``--json``: as one JSON object); exits 1 if an output is missing, made twice or damaged.
The suite runs a small one (tests/orchestration/test_soak.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MESHMILL = str(Path(sys.executable).with_name("meshmill"))


def make_images(folder: Path, count: int, rng: random.Random) -> None:
    """``count`` distinct pictures: the bundled PNG samples, one pixel of each changed to a colour of its own."""
    from PIL import Image

    samples = [Image.open(p).convert("RGBA") for p in sorted((ROOT / "samples").glob("*.png"))]
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        image = samples[n % len(samples)].copy()
        image.putpixel((rng.randrange(8), rng.randrange(8)), (n % 256, n // 256 % 256, 7, 255))
        image.save(folder / f"{n:04d}.png")


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def worker_pids(convert: int) -> list[int]:
    """The worker processes convert spawned (multiprocessing's spawn), not the Dagster helpers they start."""
    found = []
    for pid in children(convert):
        try:
            if b"multiprocessing.spawn" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


def gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not [p for p in pids if Path(f"/proc/{p}").exists() and "Z" not in _state(p)]:
            return True
        time.sleep(0.2)
    return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def soak(work: Path, images: int, kills: int, seed: int, workers: int = 2, delay: tuple[float, float] = (4.0, 30.0)) -> dict:
    rng = random.Random(seed)
    env = {**os.environ, "MESHMILL_HOME": str(work / "home"), "DAGSTER_HOME": str(work / "dagster"), "COLUMNS": "200"}
    for key in ("MESHMILL_DATABASE_URL", "MESHMILL_S3_ENDPOINT", "MESHMILL_CELERY_BROKER"):
        env.pop(key, None)
    make_images(work / "batch", images, rng)
    subprocess.run([MESHMILL, "variant", "add", "soak", "--preset", "mobile", "--faces", "800", "--texture-size", "512",
                    "--no-normal-map"], env=env, check=True, capture_output=True)  # fmt: skip
    figures = {"images": images, "workers": workers, "kills_of_convert": 0, "kills_of_a_worker": 0, "converts": 0}
    start, left, rc = time.monotonic(), kills, None
    while figures["converts"] < kills + 5:
        figures["converts"] += 1
        with open(work / f"convert-{figures['converts']}.log", "w") as log:
            convert = subprocess.Popen([MESHMILL, "convert", str(work / "batch"), "--variant", "soak", "--workers", str(workers)],
                                       env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        killed_convert = False
        while left and convert.poll() is None:
            deadline = time.monotonic() + rng.uniform(*delay)
            while time.monotonic() < deadline and convert.poll() is None:
                time.sleep(0.2)
            if convert.poll() is not None:
                break
            pool = worker_pids(convert.pid)
            if pool and rng.random() < 0.5:
                os.kill(rng.choice(pool), signal.SIGKILL)
                figures["kills_of_a_worker"] += 1
            else:
                helpers = [pid for w in worker_pids(convert.pid) for pid in (w, *children(w))]
                os.kill(convert.pid, signal.SIGKILL)
                convert.wait()
                gone(helpers, 30)  # its workers watch it and end
                figures["kills_of_convert"] += 1
                killed_convert = True
            left -= 1
            if killed_convert:
                break
        rc = convert.wait()
        if not killed_convert and rc == 0:
            break
    figures["seconds"] = round(time.monotonic() - start, 1)
    figures["last_convert_exit"] = rc
    check = subprocess.run([MESHMILL, "catalog", "check", "--deep", "--grace", "0", "--json"], env=env, capture_output=True, text=True)
    findings = json.loads(check.stdout)["findings"] if check.stdout.strip() else [{"kind": "check_failed", "detail": check.stderr}]
    figures.update(_outputs(work / "home" / "catalog.db"))
    figures["damaged_or_missing_blobs"] = sum(f["kind"] in ("damaged_blob", "missing_blob") for f in findings)
    figures["check_findings"] = sorted({f["kind"] for f in findings})
    return figures


def _outputs(database: Path) -> dict:
    import sqlite3

    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        made = conn.execute("SELECT count(*) FROM output WHERE status = 'succeeded'").fetchone()[0]
        per_output = conn.execute(
            "SELECT o.id, sum(a.status = 'succeeded'), count(a.id) FROM output o"
            " LEFT JOIN output_attempt a ON a.output_id = o.id GROUP BY o.id"
        ).fetchall()
    return {
        "outputs_made": made,
        "outputs_made_twice_or_more": sum(s > 1 for _, s, _ in per_output),
        "attempts": sum(n for _, _, n in per_output),
        "attempts_cut_by_a_kill": sum(n - s for _, s, n in per_output),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--delay", type=float, nargs=2, default=(4.0, 30.0), metavar=("MIN", "MAX"), help="seconds before a kill")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one, removed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="meshmill-soak-") as temporary:
        work = args.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        figures = soak(work, args.images, args.kills, args.seed, args.workers, tuple(args.delay))
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>28}  {value}")
    bad = figures["outputs_made"] != args.images or figures["outputs_made_twice_or_more"] or figures["damaged_or_missing_blobs"]
    sys.exit(1 if bad or figures["last_convert_exit"] != 0 else 0)


if __name__ == "__main__":
    main()
