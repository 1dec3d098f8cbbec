"""Decoding untrusted image files into clean 8-bit RGB or RGBA pictures.

Style models and artists hand us every flavour of file: 16-bit PNGs, CMYK JPEGs, palettes with a
transparent index, EXIF-rotated phone shots. ``decode_image`` turns each into what the pipeline
expects, or raises ``ImageError`` saying what is wrong with it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Largest picture accepted, in pixels (16384 × 16384 = 268 Mpx would need > 1 GB decoded).
MAX_PIXELS = 8192 * 8192


class ImageError(ValueError):
    """The file is not an image Meshmill can use; the message says why."""


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # mode RGB or RGBA, 8 bits per channel, upright
    source_format: str  # e.g. PNG, JPEG
    source_mode: str  # the mode the file was stored in, e.g. I;16, CMYK, P


def _to_8bit(image: Image.Image) -> Image.Image:
    """High-bit-depth greyscale to 8-bit by scaling, not clipping (Pillow's convert clips)."""
    values = np.asarray(image)
    if image.mode.startswith("I;16"):
        scaled = values.astype(np.uint32) >> 8
    elif image.mode == "F":
        scaled = np.clip(values * (255.0 if values.max(initial=0) <= 1.0 else 1.0), 0, 255)
    else:  # "I": 32-bit ints, in practice 16-bit data
        top = 65535 if values.max(initial=0) > 255 else 255
        scaled = np.clip(values.astype(np.float64) * 255.0 / top, 0, 255)
    return Image.fromarray(np.rint(scaled).astype(np.uint8), mode="L")


def _normalise_mode(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("RGB", "RGBA"):
        return image
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _to_8bit(image).convert("RGB")
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode in ("LA", "PA", "RGBa", "La"):
        return image.convert("RGBA")
    return image.convert("RGB")  # L, 1, CMYK (Pillow undoes Adobe's inversion on decode), YCbCr, LAB, HSV


def decode_image(data: bytes, name: str = "image") -> DecodedImage:
    """Decode ``data``; ``name`` is only used in error messages."""
    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise ImageError(f"{name}: not a recognised image file (unknown format or corrupt header)") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(f"{name}: image too large to decode safely ({exc})") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"{name}: cannot read image header: {exc}") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"{name}: {width}×{height} is {width * height / 1e6:.0f} Mpx, over the {MAX_PIXELS / 1e6:.0f} Mpx limit")
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        raise ImageError(f"{name}: animated image with {frames} frames; export the frame you want as a still image")
    source_format, source_mode = image.format or "unknown", image.mode
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{name}: image data is truncated or corrupt ({exc})") from None
    if image.width < 1 or image.height < 1:
        raise ImageError(f"{name}: image has no pixels")
    return DecodedImage(_normalise_mode(image), source_format, source_mode)


def encode_png(image: Image.Image, compress_level: int = 3) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()
