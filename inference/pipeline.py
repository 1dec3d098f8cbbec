"""One image (or up to four views) to a textured GLB: the stages in order, timed.

preprocess (cut-out) → upscale → frame → shape → clean-up → UV → texture → export
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np
import trimesh
from PIL import Image

from inference.background import remove_background
from inference.cleanup import clean_mesh
from inference.export import glb_bytes, textured_mesh
from inference.images import bleed_colours
from inference.backends import get_generator
from inference.generators import ShapeGenerator
from inference.params import GenerationParams
from inference.texture import bake_texture
from inference.upscale import upscale_image
from inference.uv import unwrap
from inference.views import EXTENT, FramedViews, ViewError, check_view_names, frame_views

MIN_IMAGE_SIDE = 32
MAX_FRAME = 2048


@dataclass
class GeneratedAsset:
    mesh: trimesh.Trimesh
    glb: bytes
    params: GenerationParams
    model_name: str
    model_version: str
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    texture_coverage: float = 0.0
    watertight: bool = False  # of the welded surface; the exported mesh splits vertices along UV seams

    @property
    def faces(self) -> int:
        return len(self.mesh.faces)

    @property
    def vertices(self) -> int:
        return len(self.mesh.vertices)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def cut_out(image: Image.Image, view: str, params: GenerationParams) -> Image.Image:
    """RGBA cut-out of one view, cropped to the object with a small margin."""
    if min(image.size) < MIN_IMAGE_SIDE:
        raise ViewError(f"{view} view: image is {image.width}×{image.height}; at least {MIN_IMAGE_SIDE}×{MIN_IMAGE_SIDE} pixels are needed")
    if image.mode == "RGBA":
        alpha = np.asarray(image.getchannel("A"))
        if alpha.max() < 16:
            raise ViewError(f"{view} view: the image is fully transparent")
    if params.remove_background:
        image = remove_background(image, params.background)
    elif image.mode != "RGBA":
        raise ViewError(f"{view} view: --keep-background needs an image with an alpha channel")
    box = image.getchannel("A").point(lambda a: 255 if a > 127 else 0).getbbox()
    if box is None:
        raise ViewError(f"{view} view: no object found (background removal left nothing)")
    margin = max(2, round(0.03 * max(box[2] - box[0], box[3] - box[1])))
    cropped = np.asarray(image.crop((box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)), np.float32) / 255
    # object colours under the transparent pixels, so no later resampling mixes the backdrop in
    return Image.fromarray(np.round(bleed_colours(cropped) * 255).astype(np.uint8), "RGBA")


def frame_size(cutouts: dict[str, Image.Image], upscale: int) -> int:
    """Resolution of the shared frame: the front object's own pixel size (after upscaling), 512–2048."""
    front = cutouts["front"]
    span = max(front.size) * upscale
    return int(min(MAX_FRAME, max(512, round(span * 2.0 / EXTENT / 16) * 16)))


def prepare_views(images: dict[str, Image.Image], params: GenerationParams, timings: dict[str, float] | None = None) -> FramedViews:
    timings = {} if timings is None else timings
    check_view_names(images)  # before any work on them
    with _timed(timings, "preprocess"):
        cutouts = {name: cut_out(image, name, params) for name, image in images.items()}
    with _timed(timings, "upscale"):
        size = frame_size(cutouts, params.upscale)
        cutouts = {name: upscale_image(c, params.upscale, params.upscaler) for name, c in cutouts.items()}
    with _timed(timings, "frame"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # kept in FramedViews.warnings and reported by the caller
            return frame_views(cutouts, size)


def _check_backend_takes(generator: ShapeGenerator, views: Iterable[str]) -> None:
    refused = set(views) - generator.accepts_views
    if refused:
        raise ViewError(f"backend {generator.name!r} cannot use the {', '.join(sorted(refused))} view(s)")


def make_shape(views: FramedViews, params: GenerationParams, generator: ShapeGenerator, timings: dict[str, float] | None = None) -> trimesh.Trimesh:
    """Shape and clean-up: a watertight mesh of about ``params.target_faces`` faces in the views' frame."""
    timings = {} if timings is None else timings
    _check_backend_takes(generator, views.images)
    with _timed(timings, "shape"):
        vertices, faces = generator.generate(views, params)
    with _timed(timings, "cleanup"):
        return clean_mesh(vertices, faces, params.target_faces)


def texture_mesh(
    mesh: trimesh.Trimesh, views: FramedViews, params: GenerationParams, name: str = "meshmill", timings: dict[str, float] | None = None
) -> tuple[trimesh.Trimesh, bytes, float]:
    """UVs, baked texture and export: the textured mesh, its GLB bytes, and the texture coverage."""
    timings = {} if timings is None else timings
    with _timed(timings, "uv"):
        unwrapped = unwrap(mesh.vertices, mesh.faces, params.texture_size)
        normals = np.asarray(mesh.vertex_normals)[unwrapped.source_vertex]
    with _timed(timings, "texture"):
        texture, coverage = bake_texture(unwrapped, normals, views, params.texture_size)
    with _timed(timings, "export"):
        result = textured_mesh(unwrapped, normals, texture, name)
        glb = glb_bytes(result)
    return result, glb, coverage


def generate_asset(
    images: dict[str, Image.Image], params: GenerationParams, generator: ShapeGenerator | None = None, name: str = "meshmill"
) -> GeneratedAsset:
    """Run every stage; raises ``ViewError``/``ValueError`` with a message naming the problem."""
    generator = generator or get_generator(params.backend)
    _check_backend_takes(generator, images)  # before any work on the views
    timings: dict[str, float] = {}
    views = prepare_views(images, params, timings)
    mesh = make_shape(views, params, generator, timings)
    result, glb, coverage = texture_mesh(mesh, views, params, name, timings)
    timings["total"] = sum(timings.values())
    return GeneratedAsset(
        result, glb, params, generator.name, generator.version, timings, list(views.warnings), coverage, mesh.is_watertight
    )
