"""Where learned models live on disk, and the errors that say what is missing and where it was looked for.

Nothing is ever downloaded: weights are copied once into the models folder (``MESHMILL_MODELS_DIR``,
default ``~/.cache/meshmill/models``) in the layout their publishers use on the Hugging Face hub,
e.g. ``tencent/Hunyuan3D-2/hunyuan3d-dit-v2-0/model.fp16.safetensors``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

MODELS_DIR_ENV = "MESHMILL_MODELS_DIR"


def models_dir() -> Path:
    return Path(os.environ.get(MODELS_DIR_ENV) or Path.home() / ".cache" / "meshmill" / "models").expanduser()


class ModelUnavailable(Exception):
    """A model cannot be set up on this machine: its package, its weights or its server is missing."""


class WeightsMissing(ModelUnavailable, FileNotFoundError):
    """A learned model's files are not in the models folder; the message names the folder and the files."""


class PackageMissing(ModelUnavailable, ImportError):
    """A learned backend's Python package is not installed; the message names the pip extra."""


def require_files(what: str, paths: Iterable[Path]) -> None:
    missing = [p for p in paths if not p.is_file()]
    if missing:
        listing = "\n  ".join(str(p) for p in missing)
        raise WeightsMissing(
            f"{what}: weights not found. Expected these files (models folder {models_dir()}, set {MODELS_DIR_ENV} "
            f"to change it):\n  {listing}"
        )


def import_module(what: str, module: str, extra: str | None) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = f"pip install 'meshmill[{extra}]'" if extra else f"pip install {module.split('.')[0]}"
        raise PackageMissing(f"{what} needs the Python package {module.split('.')[0]!r} ({exc}); {hint}") from None


def quiet_loading() -> None:
    """No per-file progress bars from diffusers/transformers while a local model loads (batch logs stay readable)."""
    for name in ("diffusers", "transformers"):
        try:
            importlib.import_module(f"{name}.utils.logging").disable_progress_bar()
        except ImportError:
            pass
