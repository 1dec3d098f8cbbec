"""The interface every shape generator implements: framed views and parameters in, a mesh in the views' frame out."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import trimesh

from inference.backends import BackendSpec
from inference.params import GenerationParams
from inference.runtime.weights import ModelUnavailable
from inference.views import FramedViews


class TextureUnavailable(ModelUnavailable):
    """``texture_source="backend"`` asked of a backend that gives no texture of its own here (a model that makes
    none, a texture model not installed, a server that answered an untextured mesh)."""


class ShapeGenerator(Protocol):
    """Built by ``get_generator(name, device)``; loads what it needs once, then generates many shapes."""

    spec: BackendSpec
    name: str
    #: what made the shape, as recorded with every output (a weights folder, a server address, a version)
    version: str
    #: the views it can use; others are refused with a clear error before any work
    accepts_views: frozenset[str]

    def generate(self, views: FramedViews, params: GenerationParams) -> tuple[np.ndarray, np.ndarray]:
        """Vertices (V×3 float64) and faces (F×3 int64) of the object in the shared frame of the views
        (glTF: +Y up, front towards +Z); raises ``EmptySurface`` when there is no surface."""
        ...


class TexturingGenerator(ShapeGenerator, Protocol):
    """A generator that can also give the surface textured by its own model (``texture_source="backend"``)."""

    def generate_textured(self, views: FramedViews, params: GenerationParams) -> trimesh.Trimesh:
        """The surface in the views' frame with its texture: ``TextureVisuals`` (UVs and a PBR material whose base
        colour, metallic-roughness and normal textures the finish carries over) or vertex colours; raises
        ``TextureUnavailable`` naming what is missing."""
        ...


def textured_surface(generator: TexturingGenerator, views: FramedViews, params: GenerationParams) -> trimesh.Trimesh:
    """The backend's own textured surface (``GenerationParams`` admits ``texture_source="backend"`` only for a
    backend whose table row says it textures), or ``TextureUnavailable`` when what it gave has no texture."""
    surface = generator.generate_textured(views, params)
    if not has_texture(surface):
        raise TextureUnavailable(f"backend {generator.name!r} returned a surface without a texture or vertex colours")
    return surface


def has_texture(mesh: trimesh.Trimesh) -> bool:
    """A base colour to carry over: a material (textured, with UVs, or one colour), or colours per vertex."""
    visual = mesh.visual
    if isinstance(visual, trimesh.visual.TextureVisuals):
        return visual.material is not None and (visual.uv is None or len(visual.uv) == len(mesh.vertices))
    return visual.kind == "vertex"
