"""Renders by Blender (Cycles), a renderer Meshmill did not write: how the quality harness sees an asset
the way a studio will, from every side and under a light nobody tuned for.

Blender runs as a separate program (``blender`` on the PATH, or ``MESHMILL_BLENDER``) on
``blender_scene.py`` beside this file; one process renders every view of one mesh.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from inference.runtime.programs import blender_executable
from inference.views import VIEW_AXES

SCENE = Path(__file__).with_name("blender_scene.py")
SAMPLES = 48


def render_with_blender(
    mesh: Path,
    views: tuple[str, ...] = ("front", "left", "back", "right"),
    *,
    size: int = 256,
    half_extent: float = 1.0,
    modes: tuple[str, ...] = ("lit", "unlit"),
    samples: int = SAMPLES,
    timeout: float = 600.0,
) -> dict[tuple[str, str], np.ndarray]:
    """RGBA uint8 renders {(mode, view): image} of a GLB or OBJ (glTF convention), orthographic, the square
    [-half_extent, half_extent]² across each view filling the image.
    ``lit``: Cycles, a sun turning with the camera plus a grey world; ``unlit``: the base colour as it is."""
    job = {
        "mesh": str(Path(mesh).resolve()),
        "views": {name: list(VIEW_AXES[name][1]) for name in views},
        "size": size,
        "half_extent": half_extent,
        "samples": samples,
        "modes": list(modes),
    }
    with tempfile.TemporaryDirectory(prefix="meshmill-blender-") as tmp:
        job["out"] = tmp
        (Path(tmp) / "job.json").write_text(json.dumps(job))
        blender = blender_executable("rendering with Blender")
        command = [blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(SCENE)]
        command += ["--", f"{tmp}/job.json"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0 or "MESHMILL_RENDERED" not in done.stdout:
            raise RuntimeError(f"Blender could not render {mesh}: {(done.stderr or done.stdout)[-2000:]}")
        return {(mode, view): np.asarray(Image.open(f"{tmp}/{mode}_{view}.png").convert("RGBA")) for mode in modes for view in views}
