"""The shape-prior experiment's model (issue 16): front and back depth of every pixel of a view, from the picture.

A silhouette says where the object is, not how deep it is. ``DepthPrior`` is a small U-Net that reads a
framed RGBA view (``inference.views``: the object centred, its largest extent 1.8 units) and predicts, for
each pixel inside the object, the depth of its nearest and farthest surface towards the camera, in the
same units as the picture's axes. It is given the built-in generator's one-view shape (``lathe_depths``)
and learns a correction to it. The object is then the set of points that project inside the silhouette
and lie between those two depths (``carve``): a closed volume, the silhouette kept exactly.

The camera may be the front view of our convention or a three-quarter view (azimuth round the object
towards its left side, elevation above it, treated as orthographic): the volume is carved in the camera's
frame and turned into the object's (front towards +Z) by the pose (``view_rotation``).

It did not beat the silhouette generator on held-out objects (docs/explanation/shape-prior.md), so it lives
here with its training code and is not part of the package.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inference.generators.cross_section import runs

#: the input side the network reads (views are resampled to it)
INPUT_SIZE = 128
#: three-quarter view of concept art: camera 35° round the object, 20° above it
THREE_QUARTER = (35.0, 20.0)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.GroupNorm(8, cout),
        nn.SiLU(),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.GroupNorm(8, cout),
        nn.SiLU(),
    )


def lathe_depths(mask: torch.Tensor) -> torch.Tensor:
    """(B, 1, S, S) silhouettes → (B, 2, S, S) the front and back depth of the built-in generator's one-view shape:
    each row run the diameter of a round cross-section, its depth capped at the silhouette's height."""
    size = mask.shape[-1]
    inside = mask[:, 0] > 0.5
    centre, half = runs(inside)
    index = torch.arange(size, device=mask.device).float()
    offset = (index - centre) / half.clamp(min=0.5)
    rows = inside.any(-1).float()
    height = (size - rows.flip(-1).argmax(-1) - rows.argmax(-1)).float()  # from the first row to the last
    depth = torch.minimum(half, height[:, None, None] / 2) * torch.sqrt((1 - offset**2).clamp(min=0))
    depth = torch.where(inside, depth * 2 / size, torch.zeros_like(depth))  # pixels to picture units
    return torch.stack([depth, -depth], 1)


class DepthPrior(nn.Module):
    """U-Net: (B, 4, S, S) premultiplied RGBA in [0, 1] → (B, 2, S, S) front depth and back depth.

    It learns a correction to the silhouette shape (``lathe_depths``, given as two more input channels): its
    last layer starts at zero, so an untrained prior is the built-in generator's one-view shape."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256, 256)):
        super().__init__()
        self.widths = tuple(widths)
        self.down = nn.ModuleList()
        cin = 6
        for width in widths:
            self.down.append(_block(cin, width))
            cin = width
        self.up = nn.ModuleList()
        for skip in reversed(widths[:-1]):
            self.up.append(_block(cin + skip, skip))
            cin = skip
        self.head = nn.Conv2d(cin, 2, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, rgba: torch.Tensor) -> torch.Tensor:
        lathe = lathe_depths(rgba[:, 3:])
        skips = []
        x = torch.cat([rgba, lathe], 1)
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.avg_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = block(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1))
        out = lathe + self.head(x).float()
        front = out[:, :1]
        back = torch.minimum(out[:, 1:], front)  # the back is never in front of the front
        return torch.cat([front, back], 1)


def network_input(rgba: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(S, S, 4) float RGBA in [0, 1] → the (1, 4, INPUT_SIZE, INPUT_SIZE) premultiplied tensor the network reads."""
    tensor = torch.as_tensor(np.ascontiguousarray(rgba), dtype=torch.float32).permute(2, 0, 1)[None]
    tensor = torch.cat([tensor[:, :3] * tensor[:, 3:], tensor[:, 3:]], 1)
    if tensor.shape[-1] != INPUT_SIZE:
        tensor = F.interpolate(tensor, size=(INPUT_SIZE, INPUT_SIZE), mode="area")
    return tensor


def save_prior(model: DepthPrior, path: Path, extra: DepthPrior | None = None, meta: dict[str, str] | None = None) -> None:
    """``model`` in fp16 under its plain names (what ``load_prior`` reads); ``extra`` (a checkpoint's trained weights)
    under ``train.``; ``meta`` added to the metadata. Written beside and moved into place, so a killed call leaves
    the last file whole."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    named = [("", model)] + ([("train.", extra)] if extra is not None else [])
    tensors = {
        f"{prefix}{name}": value.detach().to(torch.float16).contiguous().cpu()
        for prefix, m in named
        for name, value in m.state_dict().items()
    }
    save_file(tensors, str(path.with_suffix(".tmp")), metadata={"widths": ",".join(map(str, model.widths))} | (meta or {}))
    path.with_suffix(".tmp").replace(path)


def load_prior(path: Path, device: torch.device | str = "cpu") -> DepthPrior:
    """The prior saved in ``path`` by ``save_prior``, or a training checkpoint's moving average (``train.save_checkpoint``)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as handle:
        widths = tuple(int(w) for w in handle.metadata()["widths"].split(","))
    model = DepthPrior(widths)
    model.load_state_dict({k: v.float() for k, v in load_file(str(path)).items() if not k.startswith("train.")})
    return model.to(device).eval()


@torch.no_grad()
def predict_depths(model: DepthPrior, rgba: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Front and back depth (S×S each, the view's units) of a framed (S, S, 4) RGBA view."""
    device = next(model.parameters()).device
    out = model(network_input(rgba).to(device))
    size = rgba.shape[0]
    if size != INPUT_SIZE:
        out = F.interpolate(out, size=(size, size), mode="bilinear", align_corners=False)
    return out[0, 0], out[0, 1]


def view_rotation(azimuth: float, elevation: float) -> np.ndarray:
    """The rotation from the object's frame to the camera's (camera on +Z, +Y up in the picture) for a camera at
    ``azimuth`` degrees round the object (positive: towards its left side, +X) and ``elevation`` degrees above it."""
    a, e = math.radians(azimuth), math.radians(elevation)
    turn = np.array([[math.cos(a), 0.0, -math.sin(a)], [0.0, 1.0, 0.0], [math.sin(a), 0.0, math.cos(a)]])  # Ry(-a)
    tilt = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(e), -math.sin(e)], [0.0, math.sin(e), math.cos(e)]])  # Rx(e)
    return tilt @ turn


def carve(mask: torch.Tensor, front: torch.Tensor, back: torch.Tensor, points: torch.Tensor, min_thickness: float = 0.0) -> torch.Tensor:
    """Signed field (positive inside) at camera-frame ``points`` (N×3): inside the silhouette, between the depths.

    ``mask``, ``front``, ``back``: S×S maps of the view, rows from the top, the square [-1, 1]² filling them.
    ``min_thickness``: a part thinner than this (a blade, a sheet) is widened to it about its middle, so that a
    grid that samples the field still finds it."""
    size = mask.shape[0]
    middle, half = (front + back) / 2, ((front - back) / 2).clamp(min=min_thickness / 2)
    front, back = middle + half, middle - half
    grid = torch.stack([points[:, 0], -points[:, 1]], 1)[None, None]  # grid_sample's x right, y down
    weights = mask.float()
    maps = torch.stack([weights, front * weights, back * weights])[None]
    sampled = F.grid_sample(maps, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0, :, 0]
    near = F.grid_sample(maps[:, :1], grid, mode="nearest", padding_mode="zeros", align_corners=False)[0, 0, 0]
    inside = (near > 0.5) & (points[:, 0].abs() < 1.0) & (points[:, 1].abs() < 1.0)
    # depths are only known inside the silhouette: bilinear weights towards its edge are renormalised
    weight = sampled[0].clamp(min=1e-6)
    z_front, z_back = sampled[1] / weight, sampled[2] / weight
    depth = points[:, 2]
    field = torch.minimum(z_front - depth, depth - z_back) * size / 2  # in pixels, like the silhouette's edge
    return torch.where(inside, field.clamp(-1.0, 1.0), torch.full_like(field, -1.0))
