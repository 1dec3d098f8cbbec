"""The finished asset as a binary FBX, written by Blender's own exporter run headless (``fbx_scene.py`` beside this).

No FBX writer on PyPI is both kept up and free to use in a studio (Autodesk's SDK binds to one Python and its
licence forbids redistribution; the small pure-Python writers drop materials). Blender's exporter is what studios
already trust to reach Unity and Unreal; it runs as a separate program, so its GPL does not reach Meshmill or the
files it writes. Blender is optional: without it the format is refused, naming what to install.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from inference.runtime.programs import blender_executable

SCENE = Path(__file__).with_name("fbx_scene.py")
#: the Blender add-on the FBX writer groups and names with, which studios install (``meshmill blender-addon``)
ADDON = Path(__file__).with_name("meshmill_blender.py")
PURPOSE = "writing FBX"


def check_fbx() -> None:
    """Raises ``FileNotFoundError`` where Blender is not installed."""
    blender_executable(PURPOSE)


def fbx_bytes(glb: bytes, stem: str, timeout: float = 300.0) -> bytes:
    """The GLB (level 0) converted by Blender: +Y up, metres, textures embedded and named ``stem_<role>``."""
    blender = blender_executable(PURPOSE)
    with tempfile.TemporaryDirectory(prefix="meshmill-fbx-") as tmp:
        folder = Path(tmp)
        (folder / "in.glb").write_bytes(glb)
        job = {"glb": str(folder / "in.glb"), "stem": stem, "out": str(folder / f"{stem}.fbx")}
        (folder / "job.json").write_text(json.dumps(job))
        command = [blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(SCENE), "--", str(folder / "job.json")]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0 or "MESHMILL_FBX_WRITTEN" not in done.stdout:
            raise RuntimeError(f"Blender could not write {stem}.fbx: {(done.stderr or done.stdout)[-2000:]}")
        return (folder / f"{stem}.fbx").read_bytes()
