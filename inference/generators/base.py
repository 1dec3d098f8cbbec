"""The interface every shape generator implements: framed views and parameters in, a mesh in the views' frame out."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from inference.backends import BackendSpec
from inference.params import GenerationParams
from inference.views import FramedViews


class EmptySurface(RuntimeError):
    """A generator produced no surface: a learned model decoded an empty volume (random-looking output, a bad
    seed), or the silhouettes leave no volume."""


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
