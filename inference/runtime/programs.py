"""External programs Meshmill runs: where they are, and a refusal that says how to get them."""

from __future__ import annotations

import os
import shutil


def blender_executable(purpose: str) -> str:
    """The ``blender`` program (``MESHMILL_BLENDER``, else the PATH); ``purpose`` says what needs it in the refusal."""
    found = os.environ.get("MESHMILL_BLENDER") or shutil.which("blender")
    if not found:
        raise FileNotFoundError(f"{purpose} needs the blender program on the PATH (Debian: apt-get install blender) or MESHMILL_BLENDER")
    return found
