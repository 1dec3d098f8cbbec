"""The finished asset as a binary FBX, written by Blender's own exporter run headless (``fbx_scene.py`` beside this).

No FBX writer on PyPI is both kept up and free to use in a studio (Autodesk's SDK binds to one Python and its
licence forbids redistribution; the small pure-Python writers drop materials). Blender's exporter is what studios
already trust to reach Unity and Unreal; it runs as a separate program, so its GPL does not reach Meshmill or the
files it writes. Blender is optional: without it the format is refused, naming what to install.

Blender takes about a second to start, most of an FBX's cost. A process keeps one Blender for all its writes
(``BlenderSession``): a worker converting a batch pays the start once. Each job empties Blender's scene first; a
Blender that dies, hangs past the timeout or has served ``JOBS_PER_BLENDER`` files is replaced by a fresh one, and it
ends when the process that started it does (its stdin closes).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import os
import queue
import subprocess
import tempfile
import threading
from pathlib import Path

from inference.runtime.programs import blender_executable

SCENE = Path(__file__).with_name("fbx_scene.py")
#: the Blender add-on the FBX writer groups and names with, which studios install (``meshmill blender-addon``)
ADDON = Path(__file__).with_name("meshmill_blender.py")
PURPOSE = "writing FBX"


def check_fbx() -> None:
    """Raises ``FileNotFoundError`` where Blender is not installed."""
    blender_executable(PURPOSE)


#: files one Blender writes before a fresh one takes over (each job empties the scene; this bounds what leaks)
JOBS_PER_BLENDER = 200
WRITTEN, FAILED = "MESHMILL_FBX_WRITTEN", "MESHMILL_FBX_FAILED"


class BlenderSession:
    """One headless Blender running ``fbx_scene.py``, started at the first job and kept for the next."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.jobs = 0

    @property
    def pid(self) -> int | None:
        """The running Blender's process id (None before the first job or after ``close``)."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def run(self, job: dict[str, str], timeout: float) -> None:
        """Runs one job; raises ``RuntimeError`` with Blender's last words where it fails, dies or hangs."""
        with self._lock:
            if self._process is None or self._process.poll() is not None or self.jobs >= JOBS_PER_BLENDER:
                self._start()
            self.jobs += 1
            said: collections.deque[str] = collections.deque(maxlen=30)
            try:
                self._process.stdin.write(json.dumps(job).encode() + b"\n")
                while True:
                    line = self._lines.get(timeout=timeout)
                    if line is None:
                        raise RuntimeError("Blender ended mid-job: " + " | ".join(said))
                    if line.startswith(WRITTEN):
                        return
                    if line.startswith(FAILED):
                        raise RuntimeError(line[len(FAILED) :].strip() + " | " + " | ".join(said))
                    said.append(line.rstrip())
            except queue.Empty:
                self._stop()
                raise RuntimeError(f"Blender wrote nothing back in {timeout:.0f} s: " + " | ".join(said)) from None
            except BrokenPipeError:
                self._stop()
                raise RuntimeError("Blender ended before it read the job: " + " | ".join(said)) from None
            except RuntimeError:
                if self._process.poll() is not None:  # it died: the next job starts a fresh one
                    self._stop()
                raise

    def close(self) -> None:
        with self._lock:
            self._stop()

    def forget_in_child(self) -> None:
        """In a forked child: let go of the parent's Blender (its pipes closed here, so that it still sees its stdin
        end when the parent ends); the child starts its own at its first job. The pipes are unbuffered files, whose
        close takes no lock that the parent's reader thread may have held at the fork."""
        self._lock = threading.Lock()
        process, self._process = self._process, None
        for stream in (process.stdin, process.stdout) if process is not None else ():
            with contextlib.suppress(OSError):
                stream.close()

    def _start(self) -> None:
        self._stop()
        command = [
            blender_executable(PURPOSE),
            "-b",
            "--factory-startup",
            "--python-exit-code",
            "1",
            "--python",
            str(SCENE),
        ]
        # unbuffered pipes: no lock of Python's buffered files for a fork to copy while the reader holds it
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0)
        self.jobs = 0
        self._lines = queue.Queue()
        threading.Thread(target=_forward, args=(self._process.stdout, self._lines), daemon=True).start()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.stdin.close()  # ends its loop
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()


def _forward(stream, lines: queue.Queue) -> None:  # noqa: ANN001
    """Blender's output, line by line, into ``lines``; None when it ends."""
    pending = b""
    while chunk := stream.read(65536):
        *whole, pending = (pending + chunk).split(b"\n")
        for line in whole:
            lines.put(line.decode(errors="replace"))
    lines.put(None)


#: this process's Blender
SESSION = BlenderSession()
atexit.register(SESSION.close)
os.register_at_fork(after_in_child=SESSION.forget_in_child)


def fbx_bytes(glb: bytes, stem: str, timeout: float = 300.0) -> bytes:
    """The GLB (level 0) converted by Blender: +Y up, metres, textures embedded and named ``stem_<role>``."""
    with tempfile.TemporaryDirectory(prefix="meshmill-fbx-") as tmp:
        folder = Path(tmp)
        (folder / "in.glb").write_bytes(glb)
        try:
            SESSION.run({"glb": str(folder / "in.glb"), "stem": stem, "out": str(folder / f"{stem}.fbx")}, timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"Blender could not write {stem}.fbx: {str(exc)[-2000:]}") from None
        return (folder / f"{stem}.fbx").read_bytes()
