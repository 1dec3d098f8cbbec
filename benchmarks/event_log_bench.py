"""Dagster's SQLite event log against Meshmill's (its connections kept open): milliseconds per stored event.

    .venv/bin/python benchmarks/event_log_bench.py [--events 300] [--rounds 3]

Stores ``--events`` materialisation events (each written to the run's file and mirrored in the index, as a
``convert`` run's are) into a fresh folder with each storage, the two alternating for ``--rounds`` rounds, and
prints the milliseconds per event. Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import dagster as dg
    from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
    from dagster._core.events.log import EventLogEntry
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    from orchestration.event_log import PooledSqliteEventLogStorage

    def entry(index: int) -> EventLogEntry:
        materialised = dg.AssetMaterialization(asset_key=f"stage_{index % 5}", partition=f"image_{index // 5}")
        event = DagsterEvent(DagsterEventType.ASSET_MATERIALIZATION.value, "job", event_specific_data=StepMaterializationData(materialised))
        return EventLogEntry(None, "debug", "", "run", time.time(), dagster_event=event, job_name="job")

    for round_ in range(args.rounds):
        figures = []
        for storage in (SqliteEventLogStorage, PooledSqliteEventLogStorage):
            with tempfile.TemporaryDirectory() as folder:
                events = storage(folder)
                start = time.perf_counter()
                for index in range(args.events):
                    events.store_event(entry(index))
                figures.append(f"{storage.__name__} {(time.perf_counter() - start) / args.events * 1000:.1f} ms")
                events.dispose()
        print(f"round {round_ + 1}: " + ", ".join(figures), flush=True)


if __name__ == "__main__":
    main()
