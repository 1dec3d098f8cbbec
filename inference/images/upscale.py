"""Upscaling the cut-out views (×1/×2/×4) before texturing; alpha is resampled, never invented.

- ``builtin``: Lanczos resampling plus a mild unsharp mask; no weights.
- ``realesrgan-x4`` / ``realesrgan-x2`` / ``realesrgan-anime-x4``: Real-ESRGAN weights (``.pth``) loaded
  through spandrel, which recognises the architecture from the state dict.
- ``sd-x4``: Stable Diffusion ×4 upscaler through diffusers, from its local folder.

A learned model of a larger native scale than asked for is followed by a Lanczos downscale to the factor.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter

from inference.images.models import LEARNED_UPSCALERS, UPSCALE_FACTORS, UPSCALERS, LearnedUpscaler
from inference.runtime.devices import model_dtype, torch_device
from inference.runtime.weights import import_module, quiet_loading, require_files


def upscale_image(image: Image.Image, factor: int, method: str = "builtin", device: str | None = None) -> Image.Image:
    if factor not in UPSCALE_FACTORS:
        raise ValueError(f"upscale factor {factor} is not supported: choose 1, 2 or 4")
    if method != "builtin" and method not in LEARNED_UPSCALERS:
        raise ValueError(f"upscaler {method!r} is unknown: choose one of {', '.join(UPSCALERS)}")
    if factor == 1:
        return image
    size = (image.width * factor, image.height * factor)
    rgb = image.convert("RGB")
    if method == "builtin":
        rgb = rgb.resize(size, Image.LANCZOS).filter(ImageFilter.UnsharpMask(radius=1.0 * factor, percent=60, threshold=2))
    else:
        rgb = _learned(LEARNED_UPSCALERS[method], rgb, device)
        if rgb.size != size:
            rgb = rgb.resize(size, Image.LANCZOS)
    if image.mode == "RGBA":
        rgb.putalpha(image.getchannel("A").resize(size, Image.BICUBIC))
    return rgb


def _learned(upscaler: LearnedUpscaler, rgb: Image.Image, device: str | None) -> Image.Image:
    path = upscaler.path()
    require_files(f"upscaler {upscaler.name}", [path])
    model = _load(upscaler.name, str(path), str(torch_device(device)))
    if upscaler.package == "spandrel":
        pixels = torch.from_numpy(np.asarray(rgb, np.float32) / 255.0).permute(2, 0, 1)[None]
        with torch.inference_mode():
            out = model(pixels.to(model.device, model.dtype)).clamp(0, 1)
        return Image.fromarray(np.round(out[0].permute(1, 2, 0).float().cpu().numpy() * 255).astype(np.uint8), "RGB")
    generator = torch.Generator(device=model.device).manual_seed(0)
    return model(prompt="", image=rgb, num_inference_steps=20, generator=generator).images[0]


@lru_cache(maxsize=4)
def _load(name: str, path: str, device: str) -> Any:
    """The model behind a learned upscaler, loaded once per process and device."""
    upscaler = LEARNED_UPSCALERS[name]
    if upscaler.package == "spandrel":
        spandrel = import_module(f"upscaler {name}", "spandrel", "upscalers")
        model = spandrel.ModelLoader(device=device).load_from_file(path)
        if not isinstance(model, spandrel.ImageModelDescriptor):
            raise ValueError(f"upscaler {name}: {path} is not an image-to-image model")
        if device.startswith("cuda") and model.supports_half:
            model.half()  # as Real-ESRGAN's own inference script runs on a GPU
        return model.eval()
    diffusers = import_module(f"upscaler {name}", "diffusers", "upscalers")
    quiet_loading()
    folder = str(Path(path).parent)  # the pipeline's folder, which holds model_index.json
    dtype = model_dtype(torch_device(device))
    pipeline = diffusers.StableDiffusionUpscalePipeline.from_pretrained(folder, dtype=dtype, local_files_only=True).to(device)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline
