"""Baking a base-colour texture from the framed views by projection, in torch on the compute device.

For every texel: find the surface point behind it (rasterising the UV atlas), then for each view
ask whether the camera sees that point (a depth buffer of the mesh in that view) and how squarely
(the normal against the view direction). Colours are averaged over the views that see the point,
with weights alpha × cos². Where no view sees a point squarely, its colour is carried over the surface from the
points that are seen (``inference.mesh.unseen``): the back of a prop drawn from the front takes the colours of
its rim and sides, never the front's features seen through the object. The fill is carried as albedo (the
views' fitted light divided out, ``inference.mesh.delight``); a texture that keeps the views' light gets that
light back on the fill, as the surface's normal (turned to face the views) would have caught it. Finally the
gutters between charts are filled by a push-pull pyramid from the baked texels, which dilates the seams so
mip-maps do not bleed background in.

Everything from the UV raster to the filled texture stays on one device (CUDA in a GPU worker,
else the CPU); the texture comes back to the host once, as 8-bit RGB.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from inference.images.fill import push_pull_fill
from inference.mesh.cleanup import MeshError, weld_by_position
from inference.mesh.delight import divide_shading, relative_shading
from inference.mesh.raster import depth_buffer, interpolate, rasterize
from inference.mesh.unseen import fill_unseen, gather_samples, texel_confidence
from inference.mesh.uv import UnwrappedMesh
from inference.runtime.devices import torch_device
from inference.views import VIEW_AXES, FramedViews, project

VISIBILITY_TOLERANCE = 0.02  # world units: surface points this close to the nearest depth count as seen
MAX_SLOPE = 16.0  # ... plus, on a surface slanted away from the view, its depth change across one view pixel (up to this slope)
SOLID = 0.95  # view pixels at least this opaque keep their colour; the rest take their solid neighbours' (no backdrop halo)
TEXELS_PER_VIEW_PIXEL = 2  # across: a texture finer than this many texels per view pixel is baked at this and upsampled


def bake_size(texture_size: int, views: FramedViews) -> int:
    """The size the views can fill: the texture size, halved while it stays at or above
    TEXELS_PER_VIEW_PIXEL × the views' frame (a 4096² hero texture from 928² views is baked at 2048²)."""
    frame = max(image.shape[0] for image in views.images.values())
    size = texture_size
    while size % 2 == 0 and size // 2 >= TEXELS_PER_VIEW_PIXEL * frame:
        size //= 2
    return size


def texel_corners(faces: torch.Tensor, uvs: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each covered texel of a size² atlas: its flat index (row · size + col), its face's three vertices
    (N, 3) and its barycentrics in that face (N, 3), by which any per-vertex value is interpolated."""
    corners = torch.stack([uvs[faces][..., 0] * size, (1.0 - uvs[faces][..., 1]) * size], dim=-1)
    face, bary = rasterize(corners, size, size)
    texels = (face.view(-1) >= 0).nonzero().squeeze(1)
    return texels, faces[face.view(-1)[texels]], bary.view(-1, 3)[texels]


def view_depth(vertices: torch.Tensor, faces: torch.Tensor, view: str, size: int) -> torch.Tensor:
    """Depth buffer of the mesh in a view: the largest 'toward the camera' coordinate per pixel (-inf where empty)."""
    px, py, toward = project(vertices, view, size)
    return depth_buffer(torch.stack([px, py], dim=1)[faces], toward[faces], size, size)


def sample_bilinear(image: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Bilinear samples (N, C) of a C×H×W image at continuous pixel coordinates."""
    _, h, w = image.shape
    grid = torch.stack([px / w * 2 - 1, py / h * 2 - 1], dim=1)[None, None]
    return F.grid_sample(image[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0, :, 0].T


def in_view_frame(normals: torch.Tensor, view: str) -> torch.Tensor:
    """``normals`` (N, 3) as ``view``'s camera sees them: (its right, up, toward it); the front's frame is the world's."""
    right, toward = VIEW_AXES[view]
    axes = torch.tensor([right, (0, 1, 0), toward], dtype=normals.dtype, device=normals.device)
    return normals @ axes.T


def views_light(normal: torch.Tensor, samples: list[tuple[str, torch.Tensor, torch.Tensor]]):  # noqa: ANN201
    """One light for every view, fixed to its camera, fitted on what each view sees (``samples``: the view's name, its
    colours at every texel and which texels it sees): each picture of a view set is drawn under the light its
    camera had, from the same side of it, the way a style model or a photographer lights a picture (``relative_shading``'s
    function of normals in a view's frame, ``in_view_frame``; None: no light). A light fixed in the world (a turntable
    render) was fitted here before 2026-12-07: docs/benchmarks.md, "Four views under their own light"."""
    return relative_shading(
        torch.cat([colours[sees] for _, colours, sees in samples]),
        torch.cat([in_view_frame(normal[sees], name) for name, _, sees in samples]),
    )


def facing_views(normal: torch.Tensor, seen_normal: torch.Tensor) -> torch.Tensor:
    """``normal`` (N, 3) turned to face the front (z ≥ 0) when the seen surface (``seen_normal``) barely faces
    backwards (the views' light was fitted on one side only and says nothing of the other)."""
    if bool((seen_normal[:, 2] < -0.3).float().mean() > 0.1):
        return normal
    return torch.cat([normal[:, :2], normal[:, 2:].abs()], dim=1)


def bake_texture(
    mesh: UnwrappedMesh,
    normals: np.ndarray,
    views: FramedViews,
    size: int,
    device: str | torch.device | None = None,
    delight: bool = False,
) -> tuple[np.ndarray, float]:
    """An RGB uint8 texture (size × size) and the fraction of surface texels some view saw; with ``delight``,
    the views' light is estimated from the texels some view saw and divided out of every texel (``delight``).

    ``device``: where the bake runs (default: CUDA when there is one, else the CPU). The bake runs at
    ``bake_size`` and is upsampled to ``size``: finer texels than the views hold add time, not detail.
    """
    device = torch_device(device)
    output_size, size = size, bake_size(size, views)
    vertices = torch.as_tensor(mesh.vertices, dtype=torch.float32, device=device)
    faces = torch.as_tensor(mesh.faces, dtype=torch.long, device=device)
    uvs = torch.as_tensor(mesh.uvs, dtype=torch.float32, device=device)
    vertex_normals = torch.as_tensor(normals, dtype=torch.float32, device=device)
    texels, corners, bary = texel_corners(faces, uvs, size)
    position = interpolate(vertices, corners, bary)
    normal = F.normalize(interpolate(vertex_normals, corners, bary), dim=1, eps=1e-12)
    colour_sum = torch.zeros((len(texels), 3), device=device)
    weight_sum = torch.zeros(len(texels), device=device)
    seen = torch.zeros(len(texels), dtype=torch.bool, device=device)
    samples, weights = [], []  # per view: its name, its colours and the texels it sees; its weights
    for name, image in views.images.items():
        rgba = torch.as_tensor(image, dtype=torch.float32, device=device).permute(2, 0, 1)
        rgba = torch.cat([push_pull_fill(rgba[:3], rgba[3] >= SOLID), rgba[3:]])
        s = rgba.shape[-1]
        px, py, toward = project(position, name, s)
        depth = view_depth(vertices, faces, name, s)
        cos = (normal @ torch.tensor(VIEW_AXES[name][1], dtype=torch.float32, device=device)).clamp(0.0, 1.0)
        # the depth buffer holds a pixel's nearest depth: a slanted surface's own depth varies across the pixel
        slope = ((1 - cos**2).clamp(min=0).sqrt() / cos.clamp(min=1 / MAX_SLOPE)).clamp(max=MAX_SLOPE)
        tolerance = VISIBILITY_TOLERANCE + slope * (2.0 / s)
        visible = toward >= depth[py.long().clamp(0, s - 1), px.long().clamp(0, s - 1)] - tolerance
        sample = sample_bilinear(rgba, px, py)
        alpha = ((sample[:, 3] - 0.25) / 0.5).clamp(0.0, 1.0)
        facing = cos**2
        weight = alpha * facing * visible
        sees = visible & (facing > 0.05) & (alpha > 0)
        seen |= sees
        samples.append((name, sample[:, :3], sees))
        weights.append(weight)
    if delight:  # each view's colours de-lit before they are blended: under a light fixed to the cameras they differ
        light = views_light(normal, samples)
    for (name, colours, _), weight in zip(samples, weights, strict=True):
        if delight:
            colours = divide_shading(colours, in_view_frame(normal, name), light)[0]
        colour_sum += weight[:, None] * colours
        weight_sum += weight
    if not bool((weight_sum > 1e-6).any()):
        raise MeshError("no view colours any part of the surface (the views and the shape do not overlap)")
    colour = colour_sum / weight_sum.clamp(min=1e-6)[:, None]
    confidence = texel_confidence(weight_sum)
    shading = None if delight else relative_shading(colour, normal, seen)

    def albedo(at: torch.Tensor | slice) -> torch.Tensor:
        return colour[at] if delight else divide_shading(colour[at], normal[at], shading)[0]

    # the fill runs over the surface as one piece: vertices at one position are one, across UV seams and in
    # meshes whose faces share no vertices at all
    first, weld = weld_by_position(mesh.vertices)
    corners = torch.as_tensor(weld, dtype=torch.long, device=device)[corners]
    some = gather_samples(len(texels), device)
    vertex_fill = fill_unseen(corners[some], bary[some], albedo(some), confidence[some], weld[mesh.faces], mesh.vertices[first])
    blend = (confidence < 1).nonzero().squeeze(1)  # only these texels take any of the fill
    fill = interpolate(vertex_fill, corners[blend], bary[blend])
    if shading is not None:  # kept lighting: the fill lit as the views light the surface, turned to face them
        fill = fill * shading(facing_views(normal[blend], normal[seen]))[:, None]
    c = confidence[blend, None]
    colour[blend] = c * colour[blend] + (1 - c) * fill
    texture = torch.zeros((3, size * size), device=device)
    known = torch.zeros(size * size, dtype=torch.bool, device=device)
    texture[:, texels] = colour.T
    known[texels] = True
    texture = push_pull_fill(texture.view(3, size, size), known.view(size, size))
    if size != output_size:
        texture = F.interpolate(texture[None], size=(output_size, output_size), mode="bilinear", align_corners=False)[0]
    coverage = float(seen.float().mean()) if len(seen) else 0.0
    return (texture.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy(), coverage
