"""Real 3D clients for tests: the Khronos glTF-Validator (npm) and Blender (Debian)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.support import ROOT


def validate_gltf(*paths: Path) -> list[dict]:
    """The validator's report per file: errors, warnings, infos, messages, info."""
    script = ROOT / "tools" / "validate_gltf.mjs"
    if not (ROOT / "node_modules" / "gltf-validator").is_dir():
        raise RuntimeError("gltf-validator is not installed: run `npm ci` (make test does)")
    result = subprocess.run(["node", str(script), *map(str, paths)], capture_output=True, text=True, timeout=300, check=True)
    return json.loads(result.stdout)


def blender_import(path: Path, *options: str) -> dict:
    """What Blender's own glTF importer makes of a file: meshes, faces, materials, images, UVs (and the
    options of ``blender_import.py``: ``--tangents``)."""
    blender = shutil.which("blender")
    if blender is None:
        raise RuntimeError("Blender is not installed: run `make system-deps` (Debian package blender)")
    result = subprocess.run(
        [blender, "-b", "--factory-startup", "--python", str(Path(__file__).with_name("blender_import.py")), "--", str(path), *options],
        capture_output=True,
        text=True,
        timeout=300,
    )
    for line in result.stdout.splitlines():
        if line.startswith("MESHMILL_REPORT "):
            return json.loads(line.removeprefix("MESHMILL_REPORT "))
    raise AssertionError(f"Blender did not import {path}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
