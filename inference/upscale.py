"""Built-in upscaling (×1/×2/×4): Lanczos resampling plus a mild unsharp mask, alpha untouched.

Learned upscalers (Real-ESRGAN through spandrel, Stable Diffusion ×4) come with the learned backends.
"""

from __future__ import annotations

from PIL import Image, ImageFilter

FACTORS = (1, 2, 4)


def upscale_image(image: Image.Image, factor: int) -> Image.Image:
    if factor not in FACTORS:
        raise ValueError(f"upscale factor {factor} is not supported: choose 1, 2 or 4")
    if factor == 1:
        return image
    size = (image.width * factor, image.height * factor)
    if image.mode == "RGBA":
        rgb = image.convert("RGB").resize(size, Image.LANCZOS)
        rgb = rgb.filter(ImageFilter.UnsharpMask(radius=1.0 * factor, percent=60, threshold=2))
        alpha = image.getchannel("A").resize(size, Image.BICUBIC)
        rgb.putalpha(alpha)
        return rgb
    return image.resize(size, Image.LANCZOS).filter(ImageFilter.UnsharpMask(radius=1.0 * factor, percent=60, threshold=2))
