"""How `convert` cuts a batch into runs (ranges of consecutive partitions: what one Dagster run targets), and
hands them to worker processes that may die."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from orchestration.convert import contiguous_ranges
from orchestration.workers import run_in_workers
from tests.support import square_after, square_after_starting_a_child, worker_processes


def test_wanted_keys_become_runs_of_consecutive_keys_at_most_the_batch_size():
    order = [f"img{n}" for n in range(10)]
    assert contiguous_ranges(order, order, 4) == [order[0:4], order[4:8], order[8:10]]
    # images converted before sit between the new ones: a range never spans a key that is not wanted
    assert contiguous_ranges(order, ["img0", "img1", "img5", "img6", "img9"], 16) == [["img0", "img1"], ["img5", "img6"], ["img9"]]
    assert contiguous_ranges(order, [], 4) == []


def test_3d_ranges_leave_out_failed_images_and_variants_not_asked_for():
    order = [f"{image}|{variant}" for image in ("a", "b", "c") for variant in ("mobile", "desktop")]
    every = [key for key in order if not key.startswith("b|")]  # b failed in the image stages
    assert contiguous_ranges(order, every) == [["a|mobile", "a|desktop"], ["c|mobile", "c|desktop"]]
    mobile = [key for key in order if key.endswith("|mobile")]  # one variant of two: a range per image
    assert contiguous_ranges(order, mobile) == [["a|mobile"], ["b|mobile"], ["c|mobile"]]


@pytest.mark.timeout(60)
def test_workers_killed_busy_or_idle_lose_no_task_and_never_hang_the_batch():
    """Every worker killed at once: two waiting for a task (with a queue shared by the workers, one of them died
    holding the queue's lock and the batch hung for ever) and one in the middle of the long task, which must be
    done again by a new worker."""
    results: list[tuple[int, int]] = []
    lost: list[int] = []
    killed: list[int] = []

    def on_result(result: tuple[int, int]) -> None:
        results.append(result)
        if len(results) == 3:  # the short tasks are done: two workers wait, one is in task 0
            killed.extend(worker_processes(os.getpid()))
            for pid in killed:
                os.kill(pid, signal.SIGKILL)

    run_in_workers([(0, 2.0), (1, 0.05), (2, 0.05), (3, 0.05)], square_after, 3, on_result, on_lost=lost.append)
    assert sorted(square for _, square in results) == [0, 1, 4, 9]  # each task's result once, task 0's from a new worker
    assert len(killed) == 3 and set(lost) >= set(killed)


@pytest.mark.timeout(60)
def test_what_a_killed_worker_started_does_not_outlive_the_batch(tmp_path):
    """A worker killed in a task that had started a child process: the child ends too (Dagster's `tail -F` lived
    on in that case, holding convert's stdout, so that a caller reading it to the end hung), and so does what a
    worker that ends normally left behind."""
    pids = tmp_path / "children"

    def kill_the_busy_worker() -> None:
        while not pids.exists() or not pids.read_text():
            time.sleep(0.05)
        child = int(pids.read_text().split()[0])
        os.kill(int(_stat(child)[1]), signal.SIGKILL)  # its parent: the busy worker

    killer = threading.Thread(target=kill_the_busy_worker)
    killer.start()
    results: list[tuple[int, int]] = []
    run_in_workers([(3, 1.0, str(pids))], square_after_starting_a_child, 1, results.append)
    killer.join()
    assert [square for _, square in results] == [9]
    children = [int(pid) for pid in pids.read_text().split()]
    assert len(children) == 2  # the killed worker's, and its replacement's
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in children):
        assert time.monotonic() < deadline, "a worker's child outlived the batch"
        time.sleep(0.1)


@pytest.mark.timeout(25)
def test_a_batch_left_early_stops_its_busy_workers_at_once():
    """Ctrl-C in `convert` (here: an error while a result is recorded) stops workers that are in the middle of a
    long task at once: in process groups of their own they no longer get the terminal's Ctrl-C themselves."""
    busy: list[int] = []

    def on_result(result: tuple[int, int]) -> None:
        busy.extend(pid for pid in worker_processes(os.getpid()) if pid != result[0])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_in_workers([(0, 0.05), (1, 60.0)], square_after, 2, on_result)
    assert len(busy) == 1
    deadline = time.monotonic() + 5
    while _running(busy[0]):
        assert time.monotonic() < deadline, "the worker in the long task outlived the batch"
        time.sleep(0.1)


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name: state, parent, …"""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _running(pid: int) -> bool:
    try:
        return _stat(pid)[0] != "Z"
    except FileNotFoundError:
        return False
