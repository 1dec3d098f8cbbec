"""Shape generators: the built-in one and the learned backends, behind one interface (``base.ShapeGenerator``).

``get_generator`` reads the backends table (``inference.backends``) and builds the one implementation
a backend's kind names; the implementations import their model packages only when they are built.
"""

from __future__ import annotations

from inference.backends import backend_spec
from inference.errors import EmptySurface
from inference.generators.base import ShapeGenerator
from inference.generators.builtin import BuiltinGenerator
from inference.generators.hunyuan import HunyuanGenerator
from inference.generators.remote import RemoteGenerator
from inference.generators.shap_e import ShapEGenerator

__all__ = ["EmptySurface", "ShapeGenerator", "get_generator"]

_BY_KIND = {"builtin": BuiltinGenerator, "hunyuan": HunyuanGenerator, "shap-e": ShapEGenerator, "remote": RemoteGenerator}


def get_generator(name: str, device: str | None = None) -> ShapeGenerator:
    """Build the named backend's generator on ``device`` (default: CUDA when present); raises a clear error
    (``inference.runtime.weights.ModelUnavailable``) when its package, weights or server is missing."""
    spec = backend_spec(name)
    return _BY_KIND[spec.kind](spec, device)
