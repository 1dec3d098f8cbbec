"""Decoding untrusted image files into clean 8-bit RGB or RGBA pictures.

Style models and artists hand us every flavour of file: 16-bit PNGs, CMYK JPEGs, palettes with a
transparent index, EXIF-rotated phone shots. ``decode_image`` turns each into what the pipeline
expects, or raises ``ImageError`` saying what is wrong with it.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Largest picture accepted, in pixels (16384 × 16384 = 268 Mpx would need > 1 GB decoded).
MAX_PIXELS = 8192 * 8192
#: Shortest side worked with: a smaller picture has too few pixels to cut out and frame
MIN_IMAGE_SIDE = 32


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


#: what a file's first bytes say when it is a format Pillow does not read, and what to do instead
_UNREAD_SIGNATURES = (
    (lambda d: d[4:12] in (b"ftypheic", b"ftypheix", b"ftyphevc", b"ftypmif1", b"ftypmsf1", b"ftypheim", b"ftypheis"),
     "a HEIC/HEIF picture, which Meshmill does not read (its decoders are GPL/LGPL): export PNG or JPEG"),
    (lambda d: d.lstrip()[:5] == b"<?xml" or b"<svg" in d[:1024], "an SVG vector drawing or other XML: render it to PNG first"),
    (lambda d: d[:5] == b"%PDF-", "a PDF document: export the picture as PNG"),
    (lambda d: d[:4] == b"8BPS", "a Photoshop document: export the flattened picture as PNG"),
    (lambda d: d[:4] == b"\x76\x2f\x31\x01", "an OpenEXR image: tone-map it to an 8- or 16-bit PNG"),
)  # fmt: skip
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _check_size(name: str, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageError(f"{name}: {width}×{height} is {width * height / 1e6:.0f} Mpx, over the {MAX_PIXELS / 1e6:.0f} Mpx limit")


def _read_tiff(data: bytes, name: str) -> DecodedImage:
    """A TIFF Pillow cannot read (float or half-float colour, many samples): its first picture through tifffile,
    scaled to 8 bits (floats in [0, 1], or by their largest value when brighter)."""
    import tifffile  # only for the TIFFs that need it

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            page = tiff.pages.first
            height, width = page.shape[0], page.shape[1]
            _check_size(name, width, height)
            values = page.asarray()
    except ImageError:
        raise
    except Exception:  # tifffile raises many kinds for a corrupt file, some with no message
        raise ImageError(f"{name}: a TIFF whose data cannot be read (corrupt or truncated)") from None
    if values.ndim == 2:
        values = values[..., None]
    if values.ndim != 3 or values.shape[2] not in (1, 2, 3, 4):
        raise ImageError(f"{name}: a TIFF of shape {values.shape}: expected grey, grey+alpha, RGB or RGBA")
    stored = f"{values.dtype.kind}{values.dtype.itemsize * 8}x{values.shape[2]}"  # e.g. f32x3: float RGB
    if np.issubdtype(values.dtype, np.floating):
        floats = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
        scaled = np.clip(floats / max(1.0, float(floats.max(initial=0))), 0, 1) * 255
    else:
        scaled = values.astype(np.float64) * 255.0 / max(1, np.iinfo(values.dtype).max)
    pixels = np.rint(scaled).astype(np.uint8)
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[pixels.shape[2]]
    image = Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode)
    return DecodedImage(_normalise_mode(image), "TIFF", stored)


def decode_image(data: bytes, name: str = "image") -> DecodedImage:
    """Decode ``data``; ``name`` is only used in error messages. The decoders' own complaints (corrupt EXIF, a
    TIFF's bad offsets) are not printed: the file is decoded, or refused with one ``ImageError`` that says why."""
    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)")
    tiff_log = logging.getLogger("tifffile")
    level = tiff_log.level
    tiff_log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decode(data, name)
    finally:
        tiff_log.setLevel(level)


def _decode(data: bytes, name: str) -> DecodedImage:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        if data[:4] in _TIFF_MAGIC:
            return _read_tiff(data, name)
        said = next((what for test, what in _UNREAD_SIGNATURES if test(data)), "")
        raise ImageError(f"{name}: {said or 'not a recognised image file (unknown format or corrupt header)'}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{name}: image too large to decode safely ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name}: cannot read image header: {exc}") from None
    width, height = image.size
    _check_size(name, width, height)
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


def too_small(size: tuple[int, int]) -> str | None:
    """Why a picture of ``size`` (width, height) is too small to work with, or None: what the cut-out refuses and
    ingest refuses before storing it."""
    if min(size) >= MIN_IMAGE_SIDE:
        return None
    return f"image is {size[0]}×{size[1]}; at least {MIN_IMAGE_SIDE}×{MIN_IMAGE_SIDE} pixels are needed"


def encode_png(image: Image.Image, compress_level: int = 3) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()
