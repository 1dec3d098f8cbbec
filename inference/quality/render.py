"""Reference renders of textured meshes in our view convention, with pybullet's TinyRenderer.

TinyRenderer is a software rasteriser (no GPU, no display) that draws textured OBJ files. It is
what the quality harness and the tests use to turn real objects into the views a studio would
feed Meshmill, and to re-render our results from the same cameras. Needs the ``eval`` extra
(``pip install meshmill[eval]``).

Orthographic views are taken with a 1° field of view from far away (TinyRenderer's own
orthographic path draws nothing): across an object of extent 2 the scale varies by under 1 %.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from inference.views import VIEW_AXES

FIELD_OF_VIEW = 1.0  # degrees


def _pybullet():  # noqa: ANN202
    try:
        import pybullet
    except ImportError:
        raise ImportError("reference rendering needs pybullet: pip install 'meshmill[eval]'") from None
    return pybullet


def render_mesh(
    obj_path: Path,
    direction: tuple[float, float, float],
    *,
    size: int = 512,
    half_extent: float = 1.0,
    up: tuple[float, float, float] = (0.0, 1.0, 0.0),
    lit: bool = True,
    texture: Path | None = None,
    field_of_view: float = FIELD_OF_VIEW,
) -> np.ndarray:
    """RGBA uint8 render of an OBJ (in glTF convention) seen from ``direction``.

    The square [-half_extent, half_extent]² around the origin, across the view, fills the image.
    ``lit=False`` draws the texture's colours as they are (no shading), for comparing textures.
    ``field_of_view`` (degrees): the default is near-orthographic; 35 is a perspective like concept art's.
    """
    pb = _pybullet()
    client = pb.connect(pb.DIRECT)
    try:
        shape = pb.createVisualShape(pb.GEOM_MESH, fileName=str(obj_path), physicsClientId=client)
        body = pb.createMultiBody(baseMass=0, baseVisualShapeIndex=shape, physicsClientId=client)
        if texture is not None:
            texture_id = pb.loadTexture(str(texture), physicsClientId=client)
            pb.changeVisualShape(body, -1, textureUniqueId=texture_id, physicsClientId=client)
        d = np.asarray(direction, np.float64)
        d /= np.linalg.norm(d)
        distance = half_extent / np.tan(np.radians(field_of_view / 2))
        depth_range = 4.0 * half_extent
        view = pb.computeViewMatrix((d * distance).tolist(), [0.0, 0.0, 0.0], list(up))
        projection = pb.computeProjectionMatrixFOV(field_of_view, 1.0, max(distance - depth_range, 0.01), distance + depth_range)
        light = {} if lit else {"lightAmbientCoeff": 1.0, "lightDiffuseCoeff": 0.0, "lightSpecularCoeff": 0.0}
        _, _, rgb, _, seg = pb.getCameraImage(
            size,
            size,
            view,
            projection,
            renderer=pb.ER_TINY_RENDERER,
            lightDirection=[1.0, 2.0, 3.0],
            shadow=0,
            physicsClientId=client,
            **light,
        )
    finally:
        pb.disconnect(client)
    rgba = np.reshape(np.asarray(rgb, np.uint8), (size, size, 4)).copy()
    rgba[..., 3] = np.where(np.reshape(np.asarray(seg), (size, size)) >= 0, 255, 0)
    return rgba


def render_views(
    obj_path: Path,
    views: tuple[str, ...] = ("front", "left", "back", "right"),
    *,
    size: int = 512,
    half_extent: float = 1.0,
    lit: bool = True,
    texture: Path | None = None,
) -> dict[str, np.ndarray]:
    """Orthographic renders in the named views of our convention (see ``inference.views``)."""
    return {name: render_mesh(obj_path, VIEW_AXES[name][1], size=size, half_extent=half_extent, lit=lit, texture=texture) for name in views}


def save_views(obj_path: Path, folder: Path, *, size: int = 512, half_extent: float = 1.0, texture: Path | None = None) -> dict[str, Path]:
    """Render the four views of an OBJ and save them as ``folder/<view>.png`` (RGBA); returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, image in render_views(obj_path, size=size, half_extent=half_extent, texture=texture).items():
        paths[name] = folder / f"{name}.png"
        Image.fromarray(image, "RGBA").save(paths[name])
    return paths
