"""A backend's own texture carried onto the budget mesh (``texture_source="backend"``).

A model that textures (TRELLIS.2, Hunyuan3D-Paint, a model server asked for a textured mesh) gives a dense
surface with its own UVs and maps. The finish throws that surface's topology away (clean-up, decimation, our
UVs), so its maps are moved across the way the normal map is baked: for every texel of the budget mesh's atlas,
the closest point of the textured surface (welded by position, so that its UV seams hide no face from the
search), and there its base colour, its metallic and roughness, and its normal (the surface's own, bent by its
normal map where it has one), written in the budget mesh's tangent frame.
Maps the source lacks stay out: a source without metallic-roughness gives its constant factors, one without
a normal map gives the plain normal-map bake of its surface when the variant asks for a normal map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import trimesh
from PIL import Image

from inference.mesh.bake import sample_bilinear, texel_corners
from inference.mesh.cleanup import weld_by_position
from inference.mesh.normal_map import (
    MAX_SIZE,
    DenseSurface,
    closest_on_surface,
    encoded_atlas,
    filled_atlas,
    in_tangent_space,
    texel_frames,
    vertex_tangents,
)
from inference.mesh.raster import interpolate
from inference.mesh.uv import UnwrappedMesh
from inference.runtime.devices import torch_device

#: glTF's metallic-roughness texture: roughness in green, metallic in blue (red is ambient occlusion's, unused)
UNUSED_RED = 1.0


@dataclass(frozen=True)
class SourceMaps:
    """What a textured surface carries, as images (C×H×W float in [0, 1], row 0 at the top, trimesh's UVs: v up)
    with their glTF factors already multiplied in, or constants."""

    uvs: np.ndarray | None  # (V, 2)
    base_colour: torch.Tensor | None  # 3×H×W
    vertex_colours: np.ndarray | None  # (V, 3) in [0, 1], where the surface has colours per vertex instead
    base_factor: np.ndarray  # (3,) in [0, 1]: the colour where there is no texture
    metallic_roughness: torch.Tensor | None  # 2×H×W: metallic, roughness
    metallic: float
    roughness: float
    normal: torch.Tensor | None  # 3×H×W, tangent-space, in [0, 1]


@dataclass(frozen=True)
class TransferredMaps:
    base_colour: np.ndarray  # size×size×3 uint8
    metallic_roughness: np.ndarray | None  # size×size×3 uint8 (glTF's channels), or None: the constants below
    metallic: float
    roughness: float
    normal: np.ndarray | None  # size×size×3 uint8 tangent-space, where asked for


def source_maps(surface: trimesh.Trimesh, device: torch.device) -> SourceMaps:
    """The maps of a surface loaded by trimesh (a GLB's PBR material, an OBJ's simple one, or vertex colours)."""
    visual = surface.visual
    if not isinstance(visual, trimesh.visual.TextureVisuals):
        colours = np.asarray(visual.vertex_colors, np.float64)[:, :3] / 255.0
        return SourceMaps(None, None, colours, np.ones(3), None, 0.0, 1.0, None)
    material = visual.material
    if not isinstance(material, trimesh.visual.material.PBRMaterial):
        material = material.to_pbr()
    factor = np.asarray(material.baseColorFactor if material.baseColorFactor is not None else [255] * 4, np.float64)
    factor = factor[:3] / (255.0 if factor.max() > 1.0 else 1.0)
    metallic = 1.0 if material.metallicFactor is None else float(material.metallicFactor)
    roughness = 1.0 if material.roughnessFactor is None else float(material.roughnessFactor)
    uvs = None if visual.uv is None else np.asarray(visual.uv, np.float64)

    def image(picture: Image.Image | None, mode: str) -> torch.Tensor | None:
        if picture is None or uvs is None:
            return None
        array = np.asarray(picture.convert(mode), np.float32) / 255.0
        return torch.as_tensor(array.reshape(array.shape[0], array.shape[1], -1), device=device).permute(2, 0, 1).contiguous()

    base = image(material.baseColorTexture, "RGB")
    if base is not None:
        base = base * torch.as_tensor(factor, dtype=torch.float32, device=device)[:, None, None]
    mr = image(material.metallicRoughnessTexture, "RGB")
    if mr is not None:  # blue metallic, green roughness, each times its factor
        mr = torch.stack([mr[2] * metallic, mr[1] * roughness])
    return SourceMaps(uvs, base, None, factor, mr, metallic, roughness, image(material.normalTexture, "RGB"))


def has_normal_map(surface: trimesh.Trimesh) -> bool:
    """Whether the surface's material carries a normal map (carried over whether or not the variant bakes one)."""
    visual = surface.visual
    return isinstance(visual, trimesh.visual.TextureVisuals) and getattr(visual.material, "normalTexture", None) is not None


def transfer_maps(
    mesh: UnwrappedMesh,
    normals: np.ndarray,
    source: trimesh.Trimesh,
    size: int,
    tangents: np.ndarray | None = None,
    device: str | torch.device | None = None,
) -> TransferredMaps:
    """The source's base colour (and metallic-roughness) on ``mesh``'s size² atlas, and with ``tangents``
    (``vertex_tangents`` of ``mesh``) its normals as a tangent-space normal map (at most ``MAX_SIZE``)."""
    device = torch_device(device)
    maps = source_maps(source, device)
    surface = _Welded.of(source, device)
    on = _Texels.of(mesh, surface, size, device)

    def at_closest(values: np.ndarray) -> torch.Tensor:  # per vertex of the source as it is (split along its seams)
        table = torch.as_tensor(values, dtype=torch.float32, device=device)
        return interpolate(table, surface.corners[on.face], on.weights)

    source_uv = None if maps.uvs is None else at_closest(maps.uvs)
    if maps.base_colour is not None:
        colour = _sample(maps.base_colour, source_uv)
    elif maps.vertex_colours is not None:
        colour = at_closest(maps.vertex_colours)
    else:
        colour = torch.as_tensor(maps.base_factor, dtype=torch.float32, device=device).expand(len(on.texels), 3)
    base_colour = filled_atlas(colour.clamp(0, 1), on.texels, size, (0.5, 0.5, 0.5))
    metallic_roughness = None
    if maps.metallic_roughness is not None:
        metal, rough = _sample(maps.metallic_roughness, source_uv).clamp(0, 1).T
        channels = torch.stack([torch.full_like(metal, UNUSED_RED), rough, metal], dim=1)
        metallic_roughness = filled_atlas(channels, on.texels, size, (UNUSED_RED, maps.roughness, maps.metallic))
    normal_map = None
    if tangents is not None:
        smaller = size > MAX_SIZE  # the normal map's atlas is at most MAX_SIZE: its texels are found again
        normal_on = _Texels.of(mesh, surface, MAX_SIZE, device) if smaller else on
        normal_map = _normal_map(normals, tangents, maps, surface, source, normal_on)
    if metallic_roughness is None:
        return TransferredMaps(base_colour, None, maps.metallic, maps.roughness, normal_map)
    return TransferredMaps(base_colour, metallic_roughness, 1.0, 1.0, normal_map)


@dataclass(frozen=True)
class _Welded:
    """The source as the closest-point search reads it: welded by position, so that every vertex owns all the faces
    around it (a textured surface keeps a copy of each seam vertex per chart) and its normals are smooth across
    seams; the faces keep their order, and ``corners`` are each face's vertices in the source as it is."""

    search: DenseSurface
    vertices: np.ndarray  # (W, 3) the welded positions
    corners: torch.Tensor  # (F, 3) the source's own vertex indices
    normals: np.ndarray  # (V, 3) the welded normals on the source's own vertices

    @classmethod
    def of(cls, source: trimesh.Trimesh, device: torch.device) -> _Welded:
        vertices, faces = np.asarray(source.vertices, np.float64), np.asarray(source.faces, np.int64)
        first, welded = weld_by_position(vertices)
        search = DenseSurface.of(trimesh.Trimesh(vertices[first], welded[faces], process=False), device)
        normals = search.normals.cpu().numpy()[welded]
        return cls(search, vertices[first], torch.as_tensor(faces, device=device), normals)


@dataclass(frozen=True)
class _Texels:
    """The covered texels of a size² atlas of the budget mesh (``texel_corners``) and each one's closest point on
    the source: the source face and the barycentrics there."""

    size: int
    texels: torch.Tensor
    tri: torch.Tensor
    bary: torch.Tensor
    face: torch.Tensor
    weights: torch.Tensor

    @classmethod
    def of(cls, mesh: UnwrappedMesh, surface: _Welded, size: int, device: torch.device) -> _Texels:
        faces = torch.as_tensor(mesh.faces, dtype=torch.long, device=device)
        texels, tri, bary = texel_corners(faces, torch.as_tensor(mesh.uvs, dtype=torch.float32, device=device), size)
        position = interpolate(torch.as_tensor(mesh.vertices, dtype=torch.float32, device=device), tri, bary)
        face, weights = closest_on_surface(position, surface.vertices, surface.search)
        return cls(size, texels, tri, bary, face, weights)


def _sample(image: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Bilinear samples (N, C) of a C×H×W image at UVs (v up), repeating outside [0, 1] as glTF's default sampler."""
    _, h, w = image.shape
    wrapped = uv - torch.floor(uv)
    return sample_bilinear(image, wrapped[:, 0] * w, (1 - wrapped[:, 1]) * h)


def _normal_map(
    normals: np.ndarray, tangents: np.ndarray, maps: SourceMaps, surface: _Welded, source: trimesh.Trimesh, on: _Texels
) -> np.ndarray:
    """The source's normals (bent by its own normal map, in its own tangent frame) in the budget mesh's tangent frame."""
    device = on.weights.device
    search = surface.search
    detail = interpolate(search.normals, search.faces[on.face], on.weights)
    if maps.normal is not None and maps.uvs is not None:
        corners = surface.corners[on.face]
        source_tangents = vertex_tangents(source.vertices, source.faces, maps.uvs, surface.normals)
        table = torch.as_tensor(source_tangents, dtype=torch.float32, device=device)
        tangent = interpolate(table[:, :3], corners, on.weights)
        bitangent = table[corners[:, 0], 3:4] * torch.linalg.cross(detail, tangent)
        uv = interpolate(torch.as_tensor(maps.uvs, dtype=torch.float32, device=device), corners, on.weights)
        local = _sample(maps.normal, uv) * 2 - 1
        detail = local[:, :1] * tangent + local[:, 1:2] * bitangent + local[:, 2:3] * detail
    normal, tangent, bitangent = texel_frames(normals, tangents, on.tri, on.bary)
    return encoded_atlas(in_tangent_space(detail, normal, tangent, bitangent), on.texels, on.size)
