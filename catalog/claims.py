"""One maker per output at a time: the run making an output holds a claim on it, kept alive by a heartbeat.

Two converts of overlapping folders (or a convert and a re-materialisation in the UI) plan the same
object × variant. ``start_attempt`` takes the output only when no other run holds a live claim on it; the
other run waits (``OutputClaimed``) and, once the holder is done, does not make the output again when it was
made meanwhile with the same parameters (``MadeMeanwhile``). A claim lives while its ``heartbeat`` beats: a
process killed on any host stops beating, and after ``lease_s()`` its claim counts as left behind and is taken
over (on this host ``convert`` closes a dead run's attempts at once, without waiting for the lease).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import Engine, update

from catalog.models import Output, OutputStatus, utcnow

#: seconds without a heartbeat after which a running output counts as left by a process that stopped
DEFAULT_LEASE_S = 60.0


class OutputClaimed(RuntimeError):
    """Another run is making this output now."""

    def __init__(self, output_id: int, run_id: str | None):
        super().__init__(f"output {output_id} is being made by run {run_id or '(none named)'}")
        self.output_id, self.run_id = output_id, run_id


class MadeMeanwhile(RuntimeError):
    """Another run made this output, with the same parameters, after this one was planned."""

    def __init__(self, output_id: int, run_id: str | None):
        super().__init__(f"output {output_id} was made meanwhile by run {run_id or '(none named)'}")
        self.output_id, self.run_id = output_id, run_id


def lease_s() -> float:
    """The claim's lease, ``MESHMILL_CLAIM_LEASE_S`` (default 60 s)."""
    said = os.environ.get("MESHMILL_CLAIM_LEASE_S")
    try:
        lease = float(said) if said else DEFAULT_LEASE_S
    except ValueError:
        raise ValueError(f"MESHMILL_CLAIM_LEASE_S={said!r} is not a number of seconds") from None
    if lease <= 0:
        raise ValueError(f"MESHMILL_CLAIM_LEASE_S={said!r}: the lease must be more than 0 seconds")
    return lease


def stale_before() -> datetime:
    """Heartbeats older than this are stale."""
    return utcnow() - timedelta(seconds=lease_s())


@contextlib.contextmanager
def heartbeat(engine: Engine, output_id: int, run_id: str | None) -> Iterator[None]:
    """Keep this run's claim on the output alive (every quarter of the lease, on a thread of its own) while the
    body runs. A beat that fails (the database restarting) is let go: the next one tries again."""
    table, every, stop = Output.__table__, lease_s() / 4, threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            with contextlib.suppress(Exception), engine.begin() as conn:
                conn.execute(
                    update(table)
                    .where(table.c.id == output_id, table.c.status == OutputStatus.running.value)
                    .where(table.c.dagster_run_id.is_not_distinct_from(run_id))
                    .values(heartbeat_at=utcnow())
                )

    thread = threading.Thread(target=beat, name=f"meshmill-claim-{output_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
