"""Shape generators behind one interface: framed views and parameters in, a mesh in the glTF frame out."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from inference import builtin
from inference.params import GenerationParams
from inference.views import FramedViews


class EmptySurface(RuntimeError):
    """A learned model decoded a volume with no surface in it (random-looking output, or a bad seed)."""


class ShapeGenerator(Protocol):
    name: str
    version: str
    #: the views it can use; others are refused with a clear error
    accepts_views: frozenset[str]

    def generate(self, views: FramedViews, params: GenerationParams) -> tuple[np.ndarray, np.ndarray]:
        """Vertices (V×3) and faces (F×3) of the object, in the shared frame of the views."""
        ...


class BuiltinGenerator:
    """Silhouette-based volumes; no weights, CPU or CUDA (see ``inference.builtin``)."""

    name = builtin.NAME
    version = builtin.VERSION
    accepts_views = frozenset({"front", "left", "back", "right"})

    def __init__(self, device: str | None = None):
        self.device = torch.device(device) if device else None  # None: CUDA when present

    def generate(self, views: FramedViews, params: GenerationParams) -> tuple[np.ndarray, np.ndarray]:
        return builtin.generate_shape(views, params, self.device)
