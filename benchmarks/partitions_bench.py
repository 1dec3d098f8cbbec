"""How many image partitions each Dagster storage holds: add them, list them, and run a range over them.

    .venv/bin/python benchmarks/partitions_bench.py [--sqlite 50000] [--postgres 100000]

Adds the image partitions the way `meshmill convert` does (in one call per batch of new images, here
1,000 at a time), lists them, asks for one, and times a run of the image stages' range machinery on
the last 16 (no images behind them: the run's planning is what is measured). The embedded default is
SQLite under a temporary DAGSTER_HOME; PostgreSQL is a throwaway cluster (tests/support/servers.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402

from assets.partitions import images  # noqa: E402
from orchestration.definitions import image_stages_job  # noqa: E402

BATCH = 1000


def measure(instance: dg.DagsterInstance, count: int) -> dict[str, float]:
    keys = [uuid.uuid4().hex[:16] for _ in range(count)]
    start = time.perf_counter()
    for first in range(0, count, BATCH):
        instance.add_dynamic_partitions(images.name, keys[first : first + BATCH])
    added = time.perf_counter() - start
    start = time.perf_counter()
    listed = instance.get_dynamic_partitions(images.name)
    listing = time.perf_counter() - start
    assert len(listed) == count, (len(listed), count)
    start = time.perf_counter()
    assert instance.has_dynamic_partition(images.name, keys[-1])
    lookup = time.perf_counter() - start
    start = time.perf_counter()
    again = keys[-BATCH:]  # a batch of images already known (re-converted): adding them again must be a no-op
    instance.add_dynamic_partitions(images.name, again)
    readd = time.perf_counter() - start
    # a run over the last 16 partitions: no catalog rows behind them, so each partition fails at once and
    # what is timed is Dagster planning and recording a range run among this many partitions
    tags = {"dagster/asset_partition_range_start": keys[-16], "dagster/asset_partition_range_end": keys[-1]}
    start = time.perf_counter()
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}  # 16 expected failures: only the figures are printed
    result = image_stages_job().execute_in_process(run_config=quiet, instance=instance, tags=tags, raise_on_error=False)
    run = time.perf_counter() - start
    statuses = instance.get_status_by_partition(dg.AssetKey("upscaled_image"), keys[-16:], images)
    assert not result.success and {s.value for s in statuses.values()} == {"FAILED"}, statuses
    return {"add": added, "list": listing, "lookup": lookup, "readd": readd, "run": run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite", type=int, default=50_000)
    parser.add_argument("--postgres", type=int, default=100_000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as home:
        try:
            rows.append(("SQLite (embedded)", args.sqlite, measure(dg.DagsterInstance.local_temp(home), args.sqlite)))
        except Exception as exc:  # what the embedded default does past its limit
            rows.append(("SQLite (embedded)", args.sqlite, {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}))
    if args.postgres:
        from tests.support.servers import dagster_postgres_home, throwaway_postgres

        with throwaway_postgres(durable=True) as server, tempfile.TemporaryDirectory() as home:
            os.environ.update(dagster_postgres_home(server, Path(home)))
            instance = dg.DagsterInstance.from_config(home)
            rows.append(("PostgreSQL", args.postgres, measure(instance, args.postgres)))
            instance.dispose()
    columns = f"{'add all':>9} {'list all':>9} {'one lookup':>11} {'re-add 1,000':>13} {'16-partition run':>17}"
    print(f"\n{'storage':20} {'partitions':>10} {columns}")
    for name, count, figures in rows:
        if "error" in figures:
            print(f"{name:20} {count:>10,} failed: {figures['error']}")
            continue
        print(
            f"{name:20} {count:>10,} {figures['add']:8.1f}s {figures['list']:8.2f}s {figures['lookup'] * 1000:9.1f}ms "
            f"{figures['readd']:12.2f}s {figures['run']:16.2f}s"
        )


if __name__ == "__main__":
    main()
