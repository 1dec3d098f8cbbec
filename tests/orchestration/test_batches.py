"""How `convert` cuts a batch into runs (ranges of consecutive partitions: what one Dagster run targets), and
hands them to worker processes that may die."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from orchestration import workers
from orchestration.convert import contiguous_ranges
from orchestration.workers import default_workers, run_in_workers
from tests.support import heavy_modules_loaded, square_after, square_after_starting_a_child, worker_processes


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


@pytest.mark.parametrize(
    ("cores", "gpus", "light", "images", "expected"),
    [
        (16, 1, True, 64, 8),  # a 16-core, 1-GPU node with the built-in generator or a model server: 8 share the GPU
        (16, 1, False, 64, 1),  # a learned model in process: one copy per worker, one worker per GPU
        (64, 4, True, 400, 32),  # 8 a GPU at most
        (4, 4, True, 400, 4),  # at least one a GPU, however few the cores
        (16, 1, True, 12, 2),  # no more than the batch keeps busy (8 images each)
        (2, 0, False, 200, 2),  # no GPU: one per core, whatever the backend
        (32, 0, True, 200, 8),  # ... at most 8
    ],
)
def test_the_default_worker_count_follows_cores_gpus_and_what_the_backend_keeps_on_the_gpu(
    monkeypatch, cores, gpus, light, images, expected
):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(workers, "gpu_count", lambda: gpus)
    assert default_workers(images, light) == expected


@pytest.mark.parametrize(
    ("visible", "expected"),
    [(None, 4), ("0,1", 2), ("3", 1), ("", 0), ("-1", 0), ("0,-1,1", 1), ("GPU-8c2e6f1a,GPU-91d0b7e2", 2), ("0,1,2,3,4,5", 4)],
)
def test_the_gpus_a_worker_may_use_are_those_cuda_visible_devices_lists_up_to_the_first_it_cannot(visible, expected):
    assert workers.visible_gpus(4, visible) == expected


def test_counting_gpus_imports_no_torch():
    """The parent of a batch counts GPUs (for the default worker count and each worker's device) through NVML."""
    assert heavy_modules_loaded("from orchestration.workers import gpu_count\nassert gpu_count() >= 0", ("torch",)) == []


def test_a_batch_is_light_on_the_gpu_only_when_every_variant_s_backend_is(tmp_path):
    import catalog
    from inference.params import GenerationParams
    from orchestration.cli.convert import light_on_gpu

    engine = catalog.get_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    for name, backend in (("plain", "builtin"), ("served", "trellis2"), ("learned", "hunyuan3d-2mini-turbo")):
        catalog.define_variant(engine, name, GenerationParams(backend=backend).model_dump(mode="json"))
    assert light_on_gpu(engine, ["plain", "served"]) and not light_on_gpu(engine, ["plain", "learned"])


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
