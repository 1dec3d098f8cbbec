"""What the tests share: the bundled samples, running ``meshmill`` as a user does, clean environments.

Beside it: ``servers`` (throwaway PostgreSQL, SeaweedFS S3, Meshmill's own servers), ``clients`` (the
Khronos glTF-Validator and Blender), ``images`` (awkward image files), ``tiny_hunyuan`` and
``tiny_diffusers`` (learned models at toy size, saved in their published layouts).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
ARTIFACTS = ROOT / "test-artifacts"
MESHMILL = str(Path(sys.executable).with_name("meshmill"))  # the venv's command, as a user runs it


def heavy_modules_loaded(code: str, modules: tuple[str, ...] = ("torch", "dagster", "trimesh", "scipy")) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running ``code`` (sorted): what a process that
    only does ``code`` pays for at start."""
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def bare_env(**extra: str) -> dict[str, str]:
    """A minimal environment: no MESHMILL_* or DAGSTER_* settings from the developer's shell, wide output (and
    no numba JIT, as in the tests' own process: tests/conftest.py says why)."""
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "COLUMNS": "200", "NUMBA_DISABLE_JIT": "1", **extra}


def scrubbed_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without MESHMILL_* and DAGSTER_* settings, with its own data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESHMILL_", "DAGSTER_"))}
    return {**env, "MESHMILL_HOME": str(home), "COLUMNS": "200", **extra}


def meshmill(env: dict[str, str], *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``meshmill ARGS`` in ``env``; with ``check``, a non-zero exit fails the test with its output."""
    result = subprocess.run([MESHMILL, *args], env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"meshmill {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def find_json(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    """``meshmill catalog find --json ARGS``."""
    return json.loads(meshmill(env, "catalog", "find", "--json", *args).stdout)


def catalog_url(env: dict[str, str]) -> str:
    return env.get("MESHMILL_DATABASE_URL") or f"sqlite:///{env['MESHMILL_HOME']}/catalog.db"


def blob_store(env: dict[str, str]):  # noqa: ANN201
    """The blob store ``meshmill`` uses in ``env``."""
    from catalog import LocalBlobStore, S3BlobStore

    if "MESHMILL_S3_ENDPOINT" in env:
        return S3BlobStore(
            env["MESHMILL_S3_ENDPOINT"],
            env["MESHMILL_S3_ACCESS_KEY"],
            env["MESHMILL_S3_SECRET_KEY"],
            env["MESHMILL_S3_BUCKET"],
            secure=False,
        )
    return LocalBlobStore(Path(env["MESHMILL_HOME"]) / "blobs")


def worker_processes(parent: int) -> list[int]:
    """The worker processes (``orchestration.workers``, spawned by multiprocessing) that ``parent`` started."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in children if b"multiprocessing.spawn" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def descendants(parent: int) -> list[int]:
    """Every process ``parent`` started, and theirs, as long as they are its descendants now."""
    found, todo = [], [parent]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                children = [int(c) for c in (task / "children").read_text().split()]
                found += children
                todo += children
    return found


def running(pid: int) -> bool:
    """The process exists and is not a zombie (one nobody has reaped yet has stopped all the same)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def square_after_starting_a_child(task: tuple[int, float, str]) -> tuple[int, int]:
    """``square_after``, having first started a long-lived child (a ``sleep``, standing for the ``tail -F`` Dagster
    starts in a step) whose pid it appends to the file ``task[2]``; the child is left for the worker's end to stop."""
    import subprocess

    number, seconds, pids = task
    child = subprocess.Popen(["sleep", "600"])
    with open(pids, "a") as out:
        out.write(f"{child.pid}\n")
    return square_after((number, seconds))


def square_after(task: tuple[int, float]) -> tuple[int, int]:
    """A worker's task for tests of ``orchestration.workers``: (its pid, n²) after ``seconds``."""
    import time

    number, seconds = task
    time.sleep(seconds)
    return os.getpid(), number * number


def variant_params(preset: str | None = None, **knobs: Any) -> dict[str, Any]:
    """A variant's complete parameters as `meshmill variant add` stores them (for ``catalog.define_variant``)."""
    from inference.params import GenerationParams

    return GenerationParams.resolve(preset, **knobs).model_dump(mode="json")
