"""Filling the unknown pixels of an image from the known ones: a push-pull pyramid in torch.

Push: halve the image again and again, each coarse pixel the weighted mean of the known pixels
around it (a 3×3 tent).
Pull: from the coarsest level down, every pixel unknown at a level takes the bilinearly upsampled
colour of the level above. Known pixels keep their value; unknown ones get the colour of the known
pixels around them, nearer ones counting more, in O(pixels) work and a dozen small kernels —
where a distance transform needs the full-resolution nearest-pixel search on the CPU.

Used for the gutters and unseen texels of a baked texture (so mip-maps never bleed black into a
chart) and for the colours under a cut-out's transparent and anti-aliased pixels (so no resampling
or projection near the outline shows the backdrop).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

TENT = torch.tensor([1.0, 2.0, 1.0])


def _halve(image: torch.Tensor) -> torch.Tensor:
    """(C, H, W) → (C, ⌈H/2⌉, ⌈W/2⌉): a 3×3 tent filter at stride 2 (zero outside), so each coarse pixel
    also sees the fine pixels just across its block's border — a gutter texel next to a chart is
    filled from that chart, not from whatever lies further off in its own block."""
    kernel = (TENT[:, None] * TENT[None, :]).to(image)[None, None]
    return F.conv2d(image[:, None], kernel, stride=2, padding=1)[:, 0]


def push_pull_fill(values: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """(C, H, W) ``values`` with every pixel where ``known`` (H, W) is False filled from the known ones.

    Returned unchanged when no pixel is known.
    """
    weight = known.to(values.dtype)[None]
    if not bool(known.any()):
        return values
    levels = []
    total, count = values * weight, weight
    while total.shape[-1] > 1 or total.shape[-2] > 1:
        levels.append((total, count))
        total, count = _halve(total), _halve(count)
    filled = total / count.clamp(min=1e-12)
    for total, count in reversed(levels):
        coarse = F.interpolate(filled[None], size=total.shape[-2:], mode="bilinear", align_corners=False)[0]
        filled = torch.where(count > 0, total / count.clamp(min=1e-12), coarse)
    return torch.where(known[None], values, filled)


def bleed_colours(image: np.ndarray, solid: float = 0.95) -> np.ndarray:
    """An RGBA float image (alpha in [0, 1]) with every not-quite-opaque pixel recoloured from the solid ones around it.

    Cut-outs keep the backdrop's colour under their transparent pixels, and anti-aliased outline
    pixels mix it in; any resampling or projection near the outline would then show a halo. Alpha
    is kept, so weights still fall off at the silhouette.
    """
    rgba = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
    colours = push_pull_fill(rgba[..., :3].permute(2, 0, 1), rgba[..., 3] >= solid)
    return torch.cat([colours.permute(1, 2, 0), rgba[..., 3:]], dim=2).numpy()
