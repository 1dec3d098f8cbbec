"""The learned image models Meshmill knows: upscalers and background removers, and where their files live.

This module is the one table of them; it imports nothing heavy, so parameters, the CLI and ``meshmill
models`` read the choices from here without loading a model package.

- Upscalers: Real-ESRGAN weights (``.pth``, loaded through spandrel) and Stable Diffusion ×4 (a diffusers
  folder), each at its published name under the models folder.
- Background removers: rembg's ONNX models, one file ``<name>.onnx`` each in the rembg folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from inference.licence_terms import APACHE_DIS, APACHE_U2NET, BSD_REAL_ESRGAN, MIT_BIREFNET, OPENRAIL_SD_X4, UNSTATED, Licence
from inference.runtime.weights import models_dir


@dataclass(frozen=True)
class LearnedUpscaler:
    name: str
    package: str  # spandrel | diffusers
    weights: str  # relative to the models folder
    licence: Licence

    def path(self) -> Path:
        return models_dir() / self.weights


LEARNED_UPSCALERS = {
    u.name: u
    for u in (
        LearnedUpscaler("realesrgan-x4", "spandrel", "upscalers/RealESRGAN_x4plus.pth", BSD_REAL_ESRGAN),
        LearnedUpscaler("realesrgan-x2", "spandrel", "upscalers/RealESRGAN_x2plus.pth", BSD_REAL_ESRGAN),
        LearnedUpscaler("realesrgan-anime-x4", "spandrel", "upscalers/RealESRGAN_x4plus_anime_6B.pth", BSD_REAL_ESRGAN),
        LearnedUpscaler("sd-x4", "diffusers", "stabilityai/stable-diffusion-x4-upscaler/model_index.json", OPENRAIL_SD_X4),
    )
}
#: ``builtin`` is Lanczos resampling plus a mild unsharp mask, no weights
UPSCALERS = ("builtin", *LEARNED_UPSCALERS)
UPSCALE_FACTORS = (1, 2, 4)

#: rembg's ONNX models that Meshmill accepts, and the licence of each one's weights
REMBG_LICENCES = {
    "u2net": APACHE_U2NET,
    "u2netp": APACHE_U2NET,
    "isnet-general-use": APACHE_DIS,
    "isnet-anime": APACHE_DIS,
    "birefnet-general": MIT_BIREFNET,
    "birefnet-general-lite": MIT_BIREFNET,
    "silueta": UNSTATED,
}
REMBG_MODELS = tuple(REMBG_LICENCES)
#: ``builtin`` is the backdrop-model + watershed remover, no weights
REMOVERS = ("builtin", *REMBG_MODELS)


def rembg_folder() -> Path:
    """``$REMBG_HOME``, else ``$U2NET_HOME`` (rembg's own variable), else ``rembg/`` in the models folder."""
    home = os.environ.get("REMBG_HOME") or os.environ.get("U2NET_HOME")
    return Path(home).expanduser() if home else models_dir() / "rembg"


def rembg_model_path(model: str) -> Path:
    return rembg_folder() / f"{model}.onnx"
