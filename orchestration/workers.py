"""Worker processes on one machine: one per GPU, each pinned to its GPU, kept for the whole batch.

Tasks go to the workers through a queue, so a fast worker takes more of them. Each worker is a fresh
process (spawned, not forked: CUDA does not survive a fork) started with ``CUDA_VISIBLE_DEVICES`` set
to its GPU and its share of the CPU threads; whatever it loads (a model, a session) stays loaded for
every task it takes. A worker that dies (the OOM killer, a `kill -9`) has its task handed to a new
worker, and ``on_lost(pid)`` lets the caller clean up after it.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

#: seconds between checks that every worker is still alive
_POLL = 1.0


def gpu_count() -> int:
    import torch  # seconds to import: not for the commands that only read this module's settings

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


#: a worker takes seconds to start (imports, models): below this many images each, one process does better
MIN_IMAGES_PER_WORKER = 8
#: images per run: larger chunks pay Dagster's per-run cost less often; smaller ones share work out more evenly
DEFAULT_BATCH_SIZE = 16


def default_workers(images: int) -> int:
    """One worker per GPU; on a machine without one, one per core (on the 2-core box two workers made 1.33×
    the images per hour of one with the built-in generator: README, "Orchestration"), at most 8 there (more
    was not measured); and no more than the batch keeps busy."""
    machine = gpu_count() or min(8, os.cpu_count() or 1)
    return max(1, min(machine, -(-images // MIN_IMAGES_PER_WORKER)))


def worker_environment(index: int, count: int) -> dict[str, str]:
    """What worker ``index`` of ``count`` runs with: its GPU, and its share of the cores for CPU work."""
    gpus = gpu_count()
    threads = str(max(1, (os.cpu_count() or 1) // count))
    env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "MESHMILL_WORKER": str(index)}
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = str(index % gpus)
    return env


def _exit_with_parent(parent: int) -> None:
    """End this worker when the process that started it is gone (a `kill -9` of `meshmill convert`): an orphan
    would go on running steps and hold pool slots with nobody to report to. Its open run is then closed by the
    next convert, ``catalog check --repair`` or the daemon (``orchestration.instance``)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_POLL)
        os._exit(70)

    threading.Thread(target=watch, name="meshmill-parent-watch", daemon=True).start()


def _serve(work: Callable[[Any], Any], tasks: multiprocessing.Queue, results: multiprocessing.Queue, parent: int) -> None:
    _exit_with_parent(parent)
    pid = os.getpid()
    while (item := tasks.get()) is not None:
        number, task = item
        results.put(("start", pid, number, None))
        results.put(("done", pid, number, work(task)))


def run_in_workers(
    tasks: list[Any],
    work: Callable[[Any], Any],
    count: int,
    on_result: Callable[[Any], None],
    on_lost: Callable[[int], None] = lambda pid: None,
) -> None:
    """``on_result(work(task))`` for every task, ``work`` running in ``count`` worker processes.

    ``work`` must be a module-level function (it travels to the workers by name) that never raises for a
    task's own problems: it returns them as results.
    """
    context = multiprocessing.get_context("spawn")
    todo: multiprocessing.Queue = context.Queue()
    results: multiprocessing.Queue = context.Queue()
    workers: dict[int, Any] = {}
    running: dict[int, int] = {}  # pid -> task number

    def start(index: int) -> None:
        saved = {k: os.environ.get(k) for k in worker_environment(index, count)}
        os.environ.update(worker_environment(index, count))
        try:
            process = context.Process(target=_serve, args=(work, todo, results, os.getpid()), daemon=True, name=f"meshmill-worker-{index}")
            process.start()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        workers[index] = process

    for number, task in enumerate(tasks):
        todo.put((number, task))
    for index in range(max(1, min(count, len(tasks)))):
        start(index)
    done: set[int] = set()
    try:
        while len(done) < len(tasks):
            try:
                kind, pid, number, result = results.get(timeout=_POLL)
            except queue.Empty:
                for index, process in list(workers.items()):
                    if not process.is_alive():  # died with a task in hand: hand it to a new worker
                        lost = running.pop(process.pid, None)
                        on_lost(process.pid)
                        if lost is not None and lost not in done:
                            todo.put((lost, tasks[lost]))
                        start(index)
                continue
            if kind == "start":
                running[pid] = number
            elif number not in done:
                running.pop(pid, None)
                done.add(number)
                on_result(result)
    finally:
        for _ in workers:
            todo.put(None)
        for process in workers.values():
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
