"""The persistent Dagster instance; which process owns a run on it, and closing the runs whose process is gone.

``meshmill convert`` launches its runs in its own (worker) processes and tags each with the host and pid
that coordinate it. A process killed with `kill -9` or by the OOM killer leaves its run ``STARTED``,
holding any ``gpu`` pool slot it claimed, for ever: Dagster's run monitoring only watches runs its run
launcher started. So the next convert, ``meshmill catalog check --repair`` and the daemon's
``orphaned_runs_sensor`` (under ``meshmill ui``) fail such runs and free their slots.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path

import dagster as dg
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from catalog import close_run_attempts
from catalog.config import meshmill_home
from orchestration.event_log import events_folder

REPO_ROOT = Path(__file__).resolve().parents[1]
#: who runs a run: the host and process that coordinate it, to find runs a dead process left open
COORDINATOR_TAG = "meshmill/coordinator"


def dagster_instance() -> dg.DagsterInstance:
    """The persistent instance: ``$DAGSTER_HOME``, default ``$MESHMILL_HOME/dagster`` with our dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or meshmill_home() / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and (REPO_ROOT / "dagster.yaml").exists():
        try:
            config.write_text(instance_config(home))
        except OSError as error:  # a full disk: no half-written file for the next start to read, and the file named
            config.unlink(missing_ok=True)
            raise OSError(error.errno, error.strerror, str(config)) from error
    os.environ["DAGSTER_HOME"] = str(home)
    # Dagster creates and migrates its SQLite storage when the instance is built; two processes doing it at once on a
    # new home (two converts started together) raced: "table runs already exists", or two alembic heads left behind
    with open(home / ".instance.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return dg.DagsterInstance.get()


def instance_config(home: Path) -> str:
    """The repository's dagster.yaml for the instance at ``home``, the event log's folder written in (so that a process
    that opens the instance from its folder without ``$DAGSTER_HOME`` set finds it; ``orchestration.event_log``)."""
    text = (REPO_ROOT / "dagster.yaml").read_text()
    folder = json.dumps(events_folder(home))  # a JSON string is a YAML string, quotes and all
    return re.sub(r"(?m)^(  class: PooledSqliteEventLogStorage)$", rf"\1\n  config:\n    base_dir: {folder}", text)


def on_conflict_again(action: Callable[[], None], attempts: int = 3) -> None:
    """Run ``action``, a check-then-insert on the instance that another process may be doing at the same
    moment (two converts of overlapping folders): both find the row missing, both insert, the second fails
    on the unique constraint. Asked again, it finds the row there and updates or leaves it."""
    for attempt in range(attempts):
        try:
            action()
            return
        except IntegrityError:
            if attempt == attempts - 1:
                raise


def add_partitions(instance: dg.DagsterInstance, name: str, keys: list[str]) -> None:
    """Add dynamic partitions, any of which another process may be adding at the same moment (Dagster
    checks which exist, then inserts the rest)."""
    on_conflict_again(lambda: instance.add_dynamic_partitions(name, keys))


def coordinator() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def orphaned_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """The runs still open whose coordinating process on this host is gone (a `kill -9`, the OOM killer)."""
    host = socket.gethostname()
    found = []
    for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])):
        run_host, _, pid = run.tags.get(COORDINATOR_TAG, "").rpartition(":")
        if run_host == host and pid.isdigit() and not _alive(int(pid)):
            found.append(run)
    return found


def release_orphaned_runs(instance: dg.DagsterInstance, engine: Engine | None = None) -> list[str]:
    """Fail the runs a dead process of this host left open, free the pool slots they held and, given the
    catalog's ``engine``, close the attempts they left running; returns their run ids."""
    released = []
    for run in orphaned_runs(instance):
        why = f"its process ({run.tags[COORDINATOR_TAG]}) stopped before the run ended"
        _fail_run(instance, engine, run, why, f"its process stopped: {why}")
        released.append(run.run_id)
    return released


def _fail_run(instance: dg.DagsterInstance, engine: Engine | None, run: dg.DagsterRun, why: str, attempts_why: str) -> None:
    """Fail a run left open, free the pool slots it holds and, given the catalog's ``engine``, close its attempts."""
    instance.report_run_failed(run, why)
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    if engine is not None:
        close_run_attempts(engine, run.run_id, attempts_why)


#: space kept free beside Dagster's storage, given up when it fills so that the runs left open can still be failed
RESERVE_BYTES = 4 * 2**20
_RESERVE = ".space-reserve"


def keep_reserve(instance: dg.DagsterInstance) -> None:
    """Set aside ``RESERVE_BYTES`` in the instance's folder, unless they are set aside already or there is no room."""
    path = Path(instance.root_directory) / _RESERVE
    if path.exists():
        return
    try:
        with open(path, "wb") as reserve:
            os.posix_fallocate(reserve.fileno(), 0, RESERVE_BYTES)
    except OSError:  # already (nearly) full: nothing to set aside
        path.unlink(missing_ok=True)


def give_up_reserve(instance: dg.DagsterInstance) -> None:
    (Path(instance.root_directory) / _RESERVE).unlink(missing_ok=True)


def fail_own_runs(instance: dg.DagsterInstance, engine: Engine | None, why: str) -> list[str]:
    """Fail the runs this process coordinates that are still open, as it stops on an error (Dagster's storage full,
    the catalog away), free their pool slots and close the attempts they left running; returns their run ids. Best
    effort: the storage may still refuse, and the next convert or ``catalog check --repair`` then closes them."""
    failed = []
    with contextlib.suppress(Exception):
        runs = instance.get_runs(
            dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING], tags={COORDINATOR_TAG: coordinator()})
        )
        for run in runs:
            _fail_run(instance, engine, run, why, why)
            failed.append(run.run_id)
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
