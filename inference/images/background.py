"""Background removal: keep a meaningful alpha, else rembg from a local model, else the built-in remover.

The built-in remover needs no weights. It is made for what style models produce: one object on a
plain, gradient or softly textured backdrop. It fits a smooth colour model (a quadratic surface per
channel) to the image border, measures every pixel's distance from it in units of the border's own
noise, and takes as background what is close to the model *and connected to the border*, plus large
enclosed holes that match it very closely (the gap in a mug's handle).
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage
from skimage.segmentation import watershed

from inference.images.models import REMOVERS, rembg_model_path
from inference.runtime.weights import WeightsMissing, import_module

#: longest side a mask is computed at: the built-in remover holds ~12 float copies of the picture (3 GB at 4096²),
#: and a larger picture's mask is scaled up, its outline staying within a pixel or two
MAX_MASK_SIDE = 2048


class BackgroundModelMissing(WeightsMissing):
    """A learned background remover was asked for but its model file is not on disk."""


def has_meaningful_alpha(image: Image.Image) -> bool:
    """True when the image carries an alpha channel that actually separates something."""
    if image.mode != "RGBA":
        return False
    alpha = np.asarray(image.getchannel("A"))
    transparent = (alpha < 16).mean()
    return 0.01 < transparent < 0.99


def _quadratic_design(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(xs), xs, ys, xs * xs, xs * ys, ys * ys], axis=-1)


def estimate_background(rgb: np.ndarray, border: int) -> tuple[np.ndarray, float]:
    """Smooth background colour model over the whole image, and the border's noise level."""
    h, w, _ = rgb.shape
    ring = np.zeros((h, w), bool)
    ring[:border], ring[-border:], ring[:, :border], ring[:, -border:] = True, True, True, True
    ys, xs = np.nonzero(ring)
    design = _quadratic_design(ys / h - 0.5, xs / w - 0.5)
    colours = rgb[ys, xs]
    keep = np.ones(len(ys), bool)
    for _ in range(3):  # drop border pixels that belong to an object touching the edge, refit
        coef, *_ = np.linalg.lstsq(design[keep], colours[keep], rcond=None)
        residual = np.linalg.norm(colours - design @ coef, axis=1)
        scale = 1.4826 * np.median(np.abs(residual[keep] - np.median(residual[keep]))) + 1e-3
        keep = residual < np.median(residual[keep]) + 4 * scale
    gy, gx = np.mgrid[0:h, 0:w]
    model = (_quadratic_design(gy / h - 0.5, gx / w - 0.5) @ coef).astype(np.float32)
    noise = float(np.percentile(residual[keep], 95))
    return model, noise


def builtin_mask(image: Image.Image) -> np.ndarray:
    """Foreground alpha in [0, 1] (float32, H×W) for an object on a plain-ish background.

    Markers: the image border is background; pixels far from the backdrop model are object. A
    watershed on the colour gradient then grows both until they meet at the object's outline, so
    soft backdrop texture (weak gradients) goes to the background and a light object on a light
    backdrop keeps its inside.
    """
    rgb = np.asarray(image.convert("RGB"), np.float32)
    h, w, _ = rgb.shape
    border = max(2, round(0.02 * min(h, w)))
    model, noise = estimate_background(rgb, border)
    smooth = ndimage.gaussian_filter(rgb, (1.0, 1.0, 0))
    distance = np.linalg.norm(smooth - model, axis=2)
    sure_object = distance > max(24.0, 2.0 * noise + 12.0)
    sure_object = keep_main_components(ndimage.binary_opening(sure_object, iterations=2))
    if not sure_object.any():
        return np.zeros((h, w), np.float32)
    markers = np.zeros((h, w), np.int32)
    markers[:border], markers[-border:], markers[:, :border], markers[:, -border:] = 1, 1, 1, 1
    markers[distance < max(4.0, 0.3 * noise)] = 1
    markers[sure_object] = 2
    gradient = np.max([ndimage.sobel(smooth[..., c], 0) ** 2 + ndimage.sobel(smooth[..., c], 1) ** 2 for c in range(3)], 0)
    regions = watershed(np.sqrt(gradient), markers)
    foreground = keep_main_components(ndimage.binary_opening(regions == 2, iterations=1))
    # soft edge: blur the hard mask by a pixel, so downstream sees anti-aliased outlines
    return np.clip(ndimage.gaussian_filter(foreground.astype(np.float32), 0.7), 0.0, 1.0)


def keep_main_components(mask: np.ndarray, min_fraction: float = 0.02) -> np.ndarray:
    """Drop specks: keep connected components at least ``min_fraction`` of the largest one."""
    labels, count = ndimage.label(mask)
    if count <= 1:
        return mask
    sizes = ndimage.sum(mask, labels, np.arange(1, count + 1))
    keep = np.nonzero(sizes >= min_fraction * sizes.max())[0] + 1
    return np.isin(labels, keep)


def rembg_mask(image: Image.Image, model: str = "u2net") -> np.ndarray:
    """Alpha from rembg with an ONNX model file that is already on disk (never downloaded)."""
    path = rembg_model_path(model)
    if not path.is_file():
        raise BackgroundModelMissing(
            f"rembg model {model!r} not found: expected the file {path} (set REMBG_HOME or U2NET_HOME "
            f"to the folder holding {model}.onnx, or use the built-in remover)"
        )
    rembg = import_module(f"background remover {model}", "rembg", "rembg")
    cut = rembg.remove(image.convert("RGB"), session=_rembg_session(model, str(path.parent)), only_mask=True)
    return np.asarray(cut, np.float32) / 255.0


@lru_cache(maxsize=4)
def _rembg_session(model: str, folder: str):  # noqa: ANN202
    """One ONNX session per model and folder, per process; rembg finds the file there and never downloads it."""
    rembg = import_module(f"background remover {model}", "rembg", "rembg")
    os.environ["U2NET_HOME"] = folder  # where rembg's sessions look for <model>.onnx
    return rembg.new_session(model)


def remove_background(image: Image.Image, method: str = "builtin") -> Image.Image:
    """RGBA image whose alpha separates the object; an existing meaningful alpha is kept as is.

    ``method``: ``builtin`` (no weights) or a rembg model name such as ``u2net``, ``isnet-general-use``,
    ``birefnet-general`` (its ONNX file must be in ``$REMBG_HOME``).
    """
    if method not in REMOVERS:
        raise ValueError(f"background remover {method!r} is unknown: choose one of {', '.join(REMOVERS)}")
    if has_meaningful_alpha(image):
        return image.convert("RGBA")
    small = image if max(image.size) <= MAX_MASK_SIDE else ImageOps.contain(image, (MAX_MASK_SIDE, MAX_MASK_SIDE), Image.Resampling.BOX)
    alpha = builtin_mask(small) if method == "builtin" else rembg_mask(small, method)
    if small.size != image.size:
        alpha = np.asarray(Image.fromarray(alpha.astype(np.float32), "F").resize(image.size, Image.Resampling.BILINEAR))
    rgba = np.dstack([np.asarray(image.convert("RGB")), np.round(alpha * 255).astype(np.uint8)])
    return Image.fromarray(rgba, "RGBA")
