"""The view convention, and framing cut-out views into one shared orthographic frame.

glTF coordinates: +Y up, the object's front faces +Z. Each view is an orthographic camera:

    front  camera on +Z   image right = +X      back   camera on -Z   image right = -X
    left   camera on +X   image right = -Z      right  camera on -X   image right = +Z
           (shows the object's own left side)

After framing, every view is an S×S RGBA image in which the world square [-1, 1]² (horizontal axis
as above, +Y up) fills the picture, the object's bounding box is centred on the origin and its
largest extent spans 1.8 units. All views share one scale, taken from the object's height, which
every view sees the same.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from inference.images.decode import decode_image, encode_png

VIEW_NAMES = ("front", "left", "back", "right")
#: for each view: world direction of the image's right-hand axis, and world direction towards the camera
VIEW_AXES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "front": ((1, 0, 0), (0, 0, 1)),
    "left": ((0, 0, -1), (1, 0, 0)),
    "back": ((-1, 0, 0), (0, 0, -1)),
    "right": ((0, 0, 1), (-1, 0, 0)),
}
EXTENT = 1.8  # the object's largest extent, in world units, after framing
MIN_OBJECT_PIXELS = 16  # an object smaller than this (height or width) is not usable


class ViewError(ValueError):
    """A view cannot be used; the message names the view and the problem."""


@dataclass
class FramedViews:
    """Cut-out views in the shared frame. ``images[name]`` is float32 S×S×4 in [0, 1]."""

    images: dict[str, np.ndarray]
    warnings: list[str] = field(default_factory=list)

    def mask(self, name: str, threshold: float = 0.5) -> np.ndarray:
        return self.images[name][..., 3] > threshold

    def pil_images(self) -> dict[str, Image.Image]:
        """The views as 8-bit RGBA images, for models that take pictures."""
        return {name: Image.fromarray(np.round(rgba * 255).astype(np.uint8), "RGBA") for name, rgba in self.images.items()}

    def to_pngs(self) -> dict[str, bytes]:
        """Each view as an RGBA PNG, to store. Lossless: framing makes 8-bit pictures."""
        return {name: encode_png(image) for name, image in self.pil_images().items()}

    @classmethod
    def from_pngs(cls, pngs: dict[str, bytes], notes: Iterable[str] = ()) -> FramedViews:
        """The views ``to_pngs`` stored (``notes``: the framing's warnings, kept beside them)."""
        images = {}
        for name, data in pngs.items():
            image = decode_image(data, f"framed {name} view").image
            if image.mode != "RGBA" or image.width != image.height:
                raise ViewError(f"framed {name} view: expected a square RGBA picture, got {image.mode} {image.width}×{image.height}")
            images[name] = np.asarray(image, np.float32) / 255.0
        return cls(images, list(notes))


def project(points, view: str, size: int):  # noqa: ANN001, ANN201
    """Pixel coordinates (x right, y down; continuous, pixel centres at +0.5) and depth towards the camera.

    ``points``: (N, 3), a numpy array or a torch tensor (the result is of the same kind, on its device).
    Returns (px, py, toward) where larger ``toward`` is nearer the camera.
    """
    right, toward = VIEW_AXES[view]
    h = sum(points[:, axis] * sign for axis, sign in enumerate(right) if sign)
    depth = sum(points[:, axis] * sign for axis, sign in enumerate(toward) if sign)
    px = (h + 1.0) * 0.5 * size
    py = (1.0 - points[:, 1]) * 0.5 * size
    return px, py, depth


def _bbox(alpha: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(alpha > 0.5)
    if len(ys) == 0:
        return None
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def check_view_names(names: Iterable[str]) -> None:
    """Views must be among front/left/back/right and include front."""
    unknown = set(names) - set(VIEW_NAMES)
    if unknown:
        raise ViewError(f"unknown view name(s) {', '.join(sorted(unknown))}: use {', '.join(VIEW_NAMES)}")
    if "front" not in names:
        raise ViewError("a front view is required")


def frame_views(cutouts: dict[str, Image.Image], size: int) -> FramedViews:
    """Crop, recentre, rescale and pad RGBA cut-outs into the shared frame (see module docstring).

    Views whose object heights differ are rescaled to the front view's height (with a warning);
    a back or right view that contradicts its opposite view, or side views whose vertical extent
    contradicts the front view, are dropped with a warning naming them.
    """
    check_view_names(cutouts)
    boxes = {}
    for name, image in cutouts.items():
        alpha = np.asarray(image.getchannel("A"), np.float32) / 255.0
        box = _bbox(alpha)
        if box is None:
            raise ViewError(f"{name} view: no object found (the cut-out is fully transparent)")
        width, height = box[2] - box[0], box[3] - box[1]
        if width < MIN_OBJECT_PIXELS or height < MIN_OBJECT_PIXELS:
            raise ViewError(
                f"{name} view: the object is only {width}×{height} pixels; at least {MIN_OBJECT_PIXELS}×{MIN_OBJECT_PIXELS} is needed"
            )
        boxes[name] = box

    notes: list[str] = []
    heights = {n: b[3] - b[1] for n, b in boxes.items()}
    for name, h in heights.items():
        if name != "front" and abs(h / heights["front"] - 1) > 0.03:
            notes.append(
                f"{name} view: object is {h} px tall but {heights['front']} px in the front view; "
                "rescaled to a common height (views should share one scale)"
            )
    # world units per pixel in each view, normalised so every view's object height matches the front's
    widths = {n: (b[2] - b[0]) * heights["front"] / heights[n] for n, b in boxes.items()}
    largest = max(heights["front"], *widths.values())
    images = {}
    for name, image in cutouts.items():
        x0, y0, x1, y1 = boxes[name]
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        # half the framed square, in this view's input pixels
        half = largest / EXTENT * (heights[name] / heights["front"])
        crop = image.crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))
        framed = crop.resize((size, size), Image.LANCZOS, reducing_gap=3.0)
        rgba = np.asarray(framed, np.float32) / 255.0
        rgba[..., 3] = np.clip(rgba[..., 3], 0.0, 1.0)
        images[name] = rgba
    framed = FramedViews(images, notes)
    _drop_contradicting_views(framed)
    for note in framed.warnings:
        warnings.warn(note, stacklevel=2)
    return framed


def silhouette_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def _drop_contradicting_views(views: FramedViews, min_iou: float = 0.75) -> None:
    for name, opposite in (("back", "front"), ("right", "left")):
        if name in views.images and opposite in views.images:
            iou = silhouette_iou(views.mask(name)[:, ::-1], views.mask(opposite))
            if iou < min_iou:
                del views.images[name]
                views.warnings.append(
                    f"{name} view contradicts the {opposite} view (mirrored silhouette overlap {iou:.2f} < {min_iou}); it was left out"
                )
    sides = [n for n in ("left", "right") if n in views.images]
    if sides:
        front_rows = views.mask("front").any(axis=1)
        for name in sides:
            rows = views.mask(name).any(axis=1)
            disagreement = (rows ^ front_rows).sum() / max(1, (rows | front_rows).sum())
            if disagreement > 0.1:
                del views.images[name]
                views.warnings.append(
                    f"{name} view contradicts the front view (their vertical extents differ on {disagreement:.0%} of rows); it was left out"
                )


def align_to_views(vertices: np.ndarray, views: FramedViews) -> np.ndarray:
    """Place a learned model's mesh (any scale, +Y up, front towards +Z) in the views' frame.

    Learned generators recentre and rescale the image themselves, so their meshes come back in a frame
    of their own. Scaling the mesh to the front silhouette's height and centring it on the silhouette
    (and on z = 0) lets the texture bake project the views onto it.
    """
    alpha = views.images["front"][..., 3]
    x0, y0, x1, y1 = _bbox(alpha)
    size = alpha.shape[0]
    top, bottom = 1.0 - 2.0 * y0 / size, 1.0 - 2.0 * y1 / size
    left, right = 2.0 * x0 / size - 1.0, 2.0 * x1 / size - 1.0
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    scale = (top - bottom) / max(high[1] - low[1], 1e-9)
    centre = (low + high) / 2
    target = np.array([(left + right) / 2, (top + bottom) / 2, 0.0])
    return (vertices - centre) * scale + target
