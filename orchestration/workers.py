"""Worker processes on one machine: one per GPU, each pinned to its GPU, kept for the whole batch.

The parent hands each worker one task at a time over a pipe of its own, so a fast worker takes more of
them. Each worker is a fresh process (spawned, not forked: CUDA does not survive a fork) started with
``CUDA_VISIBLE_DEVICES`` set to its GPU and its share of the CPU threads; whatever it loads (a model, a session) stays loaded for
every task it takes. A worker that dies (the OOM killer, a `kill -9`) has its task handed to a new
worker, and ``on_lost(pid)`` lets the caller clean up after it.

Each worker leads a process group of its own, and a worker that ends takes its group with it: what it
started lives on otherwise. Dagster mirrors a step's output through a ``tail -F`` child whose own watcher
can miss a parent killed at the wrong moment; such a ``tail`` ran on for ever, holding convert's stdout,
so that a caller reading it to the end (a script, a CI job) waited for ever after convert had finished.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import pynvml

#: seconds between checks that every worker is still alive
_POLL = 1.0


@functools.cache
def _nvml_gpus() -> int | None:
    """The NVIDIA GPUs on this machine as the driver counts them (asked once a process), None where NVML cannot be
    reached."""
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    try:
        return pynvml.nvmlDeviceGetCount()
    finally:
        pynvml.nvmlShutdown()


def gpu_count() -> int:
    """The NVIDIA GPUs this process may use, as CUDA would count them (``CUDA_VISIBLE_DEVICES`` respected), asked of
    the driver through NVML: the parent that only hands out work never imports torch (seconds, and memory it would
    hold for the whole batch). No driver, no GPU."""
    machine = _nvml_gpus()
    if machine is not None:
        return visible_gpus(machine, os.environ.get("CUDA_VISIBLE_DEVICES"))
    if not glob.glob("/dev/nvidia[0-9]*"):  # no NVIDIA device on this machine
        return 0
    import torch  # devices NVML cannot reach (a container given CUDA without NVML's library): ask CUDA, slowly

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def visible_gpus(count: int, visible: str | None) -> int:
    """Of ``count`` GPUs on the machine, how many CUDA lets a process with ``CUDA_VISIBLE_DEVICES=visible`` use: the
    listed ones up to the first it cannot take (empty, or "-1": none); all of them where it is not set."""
    if visible is None:
        return count
    listed = 0
    for entry in visible.split(","):
        entry = entry.strip()
        if not entry or entry.startswith("-"):
            break
        listed += 1
    return min(count, listed)


#: a worker takes seconds to start (imports, models): below this many images each, one process does better
MIN_IMAGES_PER_WORKER = 8
#: images per run: larger chunks pay Dagster's per-run cost less often; smaller ones share work out more evenly
DEFAULT_BATCH_SIZE = 16


#: the cores one worker keeps busy on a GPU node: most of the finish (decimation, xatlas, encoding) is CPU work
CORES_PER_WORKER = 2
#: workers sharing one GPU at most: 8 on a 16-core, 1-GPU node made 2.58× the images per hour of one, 4 made 2.16×
#: (docs/benchmarks.md, "Orchestration")
MAX_WORKERS_PER_GPU = 8
#: backends that keep little on the GPU (the built-in generator's field; a model server keeps its model elsewhere):
#: several workers can share a GPU. A learned model loaded in process is one copy per worker: one worker per GPU
LIGHT_ON_GPU = ("builtin", "remote")


def default_workers(images: int, light_on_gpu: bool = True) -> int:
    """How many workers a batch of ``images`` gets. On a machine without a GPU, one per core (on the 2-core box
    two workers made 1.33× the images per hour of one: docs/benchmarks.md, "Orchestration"), at most 8 (more was
    not measured). On a GPU node, one per ``CORES_PER_WORKER`` cores, up to ``MAX_WORKERS_PER_GPU`` per GPU and at
    least one per GPU, when every backend of the batch is ``light_on_gpu`` (``LIGHT_ON_GPU``); otherwise one per GPU.
    Never more than the batch keeps busy (``MIN_IMAGES_PER_WORKER`` images each)."""
    cores, gpus = os.cpu_count() or 1, gpu_count()
    if not gpus:
        machine = min(8, cores)
    elif light_on_gpu:
        machine = max(gpus, min(gpus * MAX_WORKERS_PER_GPU, cores // CORES_PER_WORKER))
    else:
        machine = gpus
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
        os.killpg(0, signal.SIGKILL)  # this worker and everything it started

    threading.Thread(target=watch, name="meshmill-parent-watch", daemon=True).start()


def _end_group(worker: int) -> None:
    """Kill what is left of a worker's process group (the worker itself may be gone already: its children stay
    in the group, and Linux hands out no new process that number while the group has members)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(worker, signal.SIGKILL)


#: seconds a program run by ``run_as_group`` has, once asked to stop, before what is left of its group is killed
STOP_GRACE = 10.0


def run_as_group(command: list[str], cwd: Path, grace: float = STOP_GRACE, env: dict[str, str] | None = None) -> int:
    """Run ``command`` as the leader of a process group of its own and return its exit status. A SIGTERM, SIGINT
    or SIGHUP here is passed to the whole group; what still runs ``grace`` seconds later is killed, and so is
    anything of the group left once the command ends. ``dagster dev`` alone passed a SIGTERM on to nobody: its
    webserver, daemon and code servers stayed up on the port, reparented to init."""
    child = subprocess.Popen(command, cwd=cwd, start_new_session=True, env=env)
    asked: list[float] = []

    def forward(signum: int, _frame: object) -> None:
        asked.append(time.monotonic())
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signum)

    previous = {number: signal.signal(number, forward) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        while True:
            try:
                code = child.wait(timeout=0.2)
                return code if code >= 0 else 128 - code  # killed by signal N: 128 + N, as a shell reports it
            except subprocess.TimeoutExpired:
                if asked and time.monotonic() - asked[0] > grace:
                    _end_group(child.pid)
    finally:
        _end_group(child.pid)
        for number, handler in previous.items():
            signal.signal(number, handler)


def _serve(work: Callable[[Any], Any], channel: Connection, parent: int) -> None:
    os.setpgrp()  # a group of its own, which ends with it (module docstring)
    _exit_with_parent(parent)
    try:
        while (item := channel.recv()) is not None:
            number, task = item
            channel.send((number, work(task)))
    except (EOFError, BrokenPipeError, ConnectionResetError):  # the parent is gone (killed): nobody to tell, nothing to say
        return
    # told to stop: every result is sent and every write committed (each task's runs end before its result is sent),
    # so the worker leaves at once; tearing down an interpreter that holds torch and Dagster took 0.7 s a worker,
    # which the parent waited for at the end of every batch
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


@dataclass
class _Worker:
    process: Any  # multiprocessing's SpawnProcess
    channel: Connection  # the parent's end of this worker's own pipe
    task: int | None = None  # the task it is on


def run_in_workers(
    tasks: list[Any],
    work: Callable[[Any], Any],
    count: int,
    on_result: Callable[[Any], None],
    on_lost: Callable[[int], None] = lambda pid: None,
) -> None:
    """``on_result(work(task))`` for every task, ``work`` running in ``count`` worker processes.

    ``work`` must be a module-level function (it travels to the workers by name) that never raises for a
    task's own problems: it returns them as results. Each worker has a pipe of its own, and the parent hands
    it one task at a time: a worker killed at any moment takes no lock with it (a queue shared by the
    workers stays locked for ever when one dies holding its lock, and the batch would hang).
    """
    context = multiprocessing.get_context("spawn")
    todo = deque(range(len(tasks)))
    workers: dict[int, _Worker] = {}
    done: set[int] = set()

    def start(index: int) -> None:
        environment = worker_environment(index, count)
        saved = {k: os.environ.get(k) for k in environment}
        os.environ.update(environment)
        ours, theirs = context.Pipe()
        try:
            process = context.Process(target=_serve, args=(work, theirs, os.getpid()), daemon=True, name=f"meshmill-worker-{index}")
            process.start()
        finally:
            theirs.close()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        workers[index] = _Worker(process, ours)
        hand_out(index)

    def hand_out(index: int) -> None:
        worker = workers[index]
        worker.task = todo.popleft() if todo else None
        if worker.task is not None:
            with contextlib.suppress(OSError):  # it died a moment ago: its task goes back when that is seen
                worker.channel.send((worker.task, tasks[worker.task]))

    for index in range(max(1, min(count, len(tasks)))):
        start(index)
    finished = False
    try:
        while len(done) < len(tasks):
            by_channel = {worker.channel: index for index, worker in workers.items()}
            for channel in wait(list(by_channel), timeout=_POLL):
                index = by_channel[channel]
                try:
                    number, result = channel.recv()
                except (EOFError, OSError):  # it died: seen below
                    continue
                if number not in done:
                    done.add(number)
                    on_result(result)
                hand_out(index)
            for index, worker in list(workers.items()):
                if worker.process.is_alive():
                    continue
                _end_group(worker.process.pid)
                on_lost(worker.process.pid)  # died with its task in hand: the task goes to a new worker
                worker.channel.close()
                del workers[index]
                if worker.task is not None and worker.task not in done:
                    todo.appendleft(worker.task)
                if todo:
                    start(index)
        finished = True
    finally:
        # done: each worker is told to stop and given time to close what it holds. Left early (Ctrl-C, an error in
        # on_result): the workers are in groups of their own, out of reach of the terminal's Ctrl-C, and stopped here.
        for worker in workers.values():
            with contextlib.suppress(OSError):
                worker.channel.send(None)
        for worker in workers.values():
            worker.process.join(timeout=30 if finished else 0)
            _end_group(worker.process.pid)
