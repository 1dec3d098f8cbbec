"""One image (or up to four views) to a textured GLB, as four stages with plain values between them.

    clean_views    images → cut-outs                      (timing: preprocess)
    upscale_views  cut-outs → views in one shared frame   (upscale, frame)
    make_shape     views → a clean mesh within budget     (shape, cleanup)
    texture_mesh   shape + views → textured mesh and GLB  (uv, texture, normal map, export)

These are exactly the boundaries the Dagster assets use: ``cleaned_image`` calls ``clean_views``,
``upscaled_image`` calls ``upscale_views`` and stores the framed views, so the 3D stages read them and
never frame again; ``mesh`` calls ``make_shape`` and ``textured_glb`` calls ``texture_mesh``.
``generate_asset`` is their composition, for ``meshmill generate`` and everything that works in memory.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import trimesh
from PIL import Image, ImageOps

from inference.generators import ShapeGenerator, get_generator
from inference.generators.base import textured_surface
from inference.images.background import remove_background
from inference.images.decode import too_small
from inference.images.fill import bleed_colours
from inference.images.upscale import upscale_image
from inference.licences import check_licences
from inference.mesh.bake import bake_texture
from inference.mesh.cleanup import budget_mesh, budget_shortfall, dense_surface, sound_faces, unit_vertex_normals
from inference.mesh.export import glb_bytes, pbr_material, textured_mesh
from inference.mesh.lod import lod_levels
from inference.mesh.normal_map import bake_normal_map, vertex_tangents
from inference.mesh.placement import placed, placement
from inference.mesh.remesh import quad_remesh, quad_shortfall
from inference.mesh.transfer import has_normal_map, transfer_maps
from inference.mesh.uv import UnwrappedMesh, unwrap
from inference.params import GenerationParams
from inference.views import EXTENT, FramedViews, ViewError, check_view_names, frame_views

MAX_FRAME = 2048
#: longest side a view is worked on at: twice the largest frame, so an object filling half the picture still fills
#: its frame, while an 8000² picture is no longer cut out at full size (9 GB of memory for a 265 KB PNG)
MAX_WORK_SIDE = 2 * MAX_FRAME


@dataclass
class Shape:
    mesh: trimesh.Trimesh  # the clean mesh within the face budget
    dense: trimesh.Trimesh | None = None  # the surface before decimation: kept when a normal map is baked from it
    warnings: list[str] = field(default_factory=list)  # what the user should know (a face budget not met)
    polygon: np.ndarray | None = None  # (F,) the polygon of each face of a quad retopology (a quad's two triangles share one)
    painted: trimesh.Trimesh | None = None  # the backend's own textured surface (texture_source "backend"), its maps carried over


@dataclass
class TexturedMesh:
    mesh: trimesh.Trimesh  # with UVs, unit normals and the PBR material
    glb: bytes
    texture_coverage: float  # fraction of surface texels some view saw
    lods: list[trimesh.Trimesh] = field(default_factory=list)  # levels 1 …, sharing ``mesh``'s material
    polygon: np.ndarray | None = None  # the polygon of each of ``mesh``'s faces (quad retopology), else None


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
    lods: list[trimesh.Trimesh] = field(default_factory=list)  # levels of detail 1 …, sharing ``mesh``'s material
    polygon: np.ndarray | None = None  # per face of ``mesh``: its polygon, where quad retopology made it

    @property
    def faces(self) -> int:
        return len(self.mesh.faces)

    @property
    def vertices(self) -> int:
        return len(self.mesh.vertices)


@contextmanager
def _timed(timings: dict[str, float] | None, stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def check_views_accepted(generator: ShapeGenerator, views: Iterable[str]) -> None:
    """A backend refuses the views it cannot use, by name, before any work is done on them."""
    refused = set(views) - generator.accepts_views
    if refused:
        raise ViewError(f"backend {generator.name!r} cannot use the {', '.join(sorted(refused))} view(s)")


def cut_out(image: Image.Image, view: str, *, remove: bool = True, remover: str = "builtin") -> Image.Image:
    """RGBA cut-out of one view, cropped to the object with a small margin.

    ``remove``: cut the object out with ``remover`` (an image's meaningful alpha is kept as it is);
    without it the image must bring its own alpha. Raises ``ViewError`` naming the view and the problem.
    """
    if problem := too_small(image.size):
        raise ViewError(f"{view} view: {problem}")
    if max(image.size) > MAX_WORK_SIDE:
        image = ImageOps.contain(image, (MAX_WORK_SIDE, MAX_WORK_SIDE), Image.Resampling.LANCZOS)
    if image.mode == "RGBA":
        alpha = np.asarray(image.getchannel("A"))
        if alpha.max() < 16:
            raise ViewError(f"{view} view: the image is fully transparent")
    if remove:
        image = remove_background(image, remover)
    elif image.mode != "RGBA":
        raise ViewError(f"{view} view: --keep-background needs an image with an alpha channel")
    box = image.getchannel("A").point(lambda a: 255 if a > 127 else 0).getbbox()
    if box is None:
        raise ViewError(f"{view} view: no object found (background removal left nothing)")
    margin = max(2, round(0.03 * max(box[2] - box[0], box[3] - box[1])))
    cropped = np.asarray(image.crop((box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)), np.float32) / 255
    # object colours under the transparent pixels, so no later resampling mixes the backdrop in
    return Image.fromarray(np.round(bleed_colours(cropped) * 255).astype(np.uint8), "RGBA")


def clean_views(
    images: dict[str, Image.Image], params: GenerationParams, timings: dict[str, float] | None = None
) -> dict[str, Image.Image]:
    """Each view cut out of its background and cropped to the object (``params``: remove_background, background)."""
    check_view_names(images)  # before any work on them
    with _timed(timings, "preprocess"):
        return {name: cut_out(image, name, remove=params.remove_background, remover=params.background) for name, image in images.items()}


def frame_size(upscaled: dict[str, Image.Image]) -> int:
    """Resolution of the shared frame: the front object's own pixel size, 512–2048."""
    span = max(upscaled["front"].size)
    return int(min(MAX_FRAME, max(512, round(span * 2.0 / EXTENT / 16) * 16)))


def upscale_views(
    cutouts: dict[str, Image.Image], params: GenerationParams, device: str | None = None, timings: dict[str, float] | None = None
) -> FramedViews:
    """The cut-outs upscaled (``params``: upscale, upscaler) and framed into one shared frame: the views the
    3D stages read. The framing's warnings (views rescaled or left out) are kept in ``FramedViews.warnings``."""
    with _timed(timings, "upscale"):
        upscaled = {name: upscale_image(c, params.upscale, params.upscaler, device) for name, c in cutouts.items()}
    with _timed(timings, "frame"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kept in FramedViews.warnings and reported by the caller
        return frame_views(upscaled, frame_size(upscaled))


def make_shape(
    views: FramedViews,
    params: GenerationParams,
    generator: ShapeGenerator,
    timings: dict[str, float] | None = None,
    device: str | None = None,
) -> Shape:
    """Shape and clean-up: a watertight mesh of about ``params.target_faces`` faces in the views' frame, and
    the dense surface it was decimated from when ``params.normal_map`` asks for it; with ``params.texture_source``
    "backend", the backend's own textured surface too. ``device``: where the decimation runs (``clean_shape``)."""
    check_views_accepted(generator, views.images)
    painted = None
    with _timed(timings, "shape"):
        if params.texture_source == "backend":
            painted = textured_surface(generator, views, params)
            vertices, faces = np.asarray(painted.vertices, np.float64), np.asarray(painted.faces, np.int64)
        else:
            vertices, faces = generator.generate(views, params)
    with _timed(timings, "cleanup"):
        shape = clean_shape(vertices, faces, params, device)
    shape.painted = painted
    return shape


def clean_shape(vertices: np.ndarray, faces: np.ndarray, params: GenerationParams, device: str | None = None) -> Shape:
    """A generator's surface cleaned up (on ``device``; default: CUDA when there is one) and brought to the budget —
    decimated there, or remeshed into quads when ``params.remesh`` asks — with the dense surface kept when ``params.normal_map``
    asks for it."""
    dense = dense_surface(vertices, faces, device=device)
    polygon = None
    if params.remesh == "quad":
        quads = quad_remesh(dense, params.target_faces)
        mesh, polygon = quads.mesh, quads.polygon
        shortfall = quad_shortfall(len(mesh.faces), params.target_faces)
    else:
        mesh = budget_mesh(dense, params.target_faces, device)
        shortfall = budget_shortfall(len(mesh.faces), params.target_faces)
    return Shape(mesh, dense if params.normal_map else None, [shortfall] if shortfall else [], polygon)


def texture_mesh(
    shape: Shape,
    views: FramedViews,
    params: GenerationParams,
    name: str = "meshmill",
    timings: dict[str, float] | None = None,
    device: str | None = None,
) -> TexturedMesh:
    """UVs, the baked base-colour texture (and normal map), the levels of detail ``params.lods`` asks for, and
    the GLB (``name`` names its mesh and material).

    ``device``: where the bakes run (default: CUDA when there is one, else the CPU). With ``params.texture_source``
    "backend" the maps of the backend's textured surface (``shape.painted``) are carried over instead of baked
    from the views."""
    mesh = shape.mesh
    if params.texture_source == "backend" and shape.painted is None:
        raise ValueError("the texture source is the backend, and this shape was made without the backend's textured surface")
    if params.normal_map and shape.dense is None and shape.painted is None:
        raise ValueError("a normal map is baked from the dense surface, and this shape was made without it")
    with _timed(timings, "uv"):
        unwrapped = unwrap(mesh.vertices, mesh.faces, params.texture_size, params.uv_mode, shape.polygon)
        normals = unit_vertex_normals(mesh.vertices, mesh.faces)[unwrapped.source_vertex]
    tangents = None
    if params.normal_map or (params.texture_source == "backend" and has_normal_map(shape.painted)):  # the backend's is kept
        with _timed(timings, "normal_map"):
            tangents = vertex_tangents(unwrapped.vertices, unwrapped.faces, unwrapped.uvs, normals)
    if params.texture_source == "backend":
        with _timed(timings, "texture"):
            maps = transfer_maps(unwrapped, normals, shape.painted, params.texture_size, tangents, device)
        texture, coverage, normal_texture = maps.base_colour, 1.0, maps.normal
        surface = {"metallic_roughness": maps.metallic_roughness, "metallic": maps.metallic, "roughness": maps.roughness}
    else:
        with _timed(timings, "texture"):
            texture, coverage = bake_texture(unwrapped, normals, views, params.texture_size, device, not params.keep_lighting)
        normal_texture, surface = None, {}
        if params.normal_map:
            with _timed(timings, "normal_map"):
                normal_texture = bake_normal_map(unwrapped, normals, tangents, shape.dense, params.texture_size, device)
    # metres, standing on its pivot; the levels are simplified from the placed mesh, so that their faces are checked
    # at the float32 positions the files store
    unwrapped, polygon = _placed(unwrapped, shape.polygon, *placement(unwrapped.vertices, params.height, params.pivot))
    with _timed(timings, "export"):
        material = pbr_material(texture, name, params.texture_format, normal_texture, **surface)
        result = textured_mesh(unwrapped, normals, material, name, params.texture_format, tangents)
    lods = []
    if params.lods:
        with _timed(timings, "lods"):
            for level in lod_levels(unwrapped, params.lods):
                welded = level.source_vertex[level.faces]  # the level's faces on the budget mesh's welded vertices
                level_normals = unit_vertex_normals(mesh.vertices, welded)[level.source_vertex]
                level_tangents = None if tangents is None else vertex_tangents(level.vertices, level.faces, level.uvs, level_normals)
                lods.append(textured_mesh(level, level_normals, material, name, params.texture_format, level_tangents))
    with _timed(timings, "export"):
        glb = glb_bytes(result, lods)
    return TexturedMesh(result, glb, coverage, lods, polygon)


def _placed(mesh: UnwrappedMesh, polygon: np.ndarray | None, scale: float, offset: np.ndarray) -> tuple[UnwrappedMesh, np.ndarray | None]:
    """The mesh moved and scaled; a sliver that moving makes of no area at float32 (rare) is dropped, with its polygon."""
    moved = placed(mesh.vertices, scale, offset)
    keep = sound_faces(moved, mesh.faces)
    if keep.all():
        return dataclasses.replace(mesh, vertices=moved), polygon
    return dataclasses.replace(mesh, vertices=moved, faces=mesh.faces[keep]), None if polygon is None else polygon[keep]


def generate_asset(
    images: dict[str, Image.Image],
    params: GenerationParams,
    generator: ShapeGenerator | None = None,
    name: str = "meshmill",
    device: str | None = None,
) -> GeneratedAsset:
    """Every stage in order; raises ``ViewError``/``ValueError`` with a message naming the problem.

    ``device``: where torch work runs (default: CUDA when there is one, else the CPU); a given
    ``generator`` keeps its own. A model the studio's licence setting forbids is refused first
    (``inference.licences``)."""
    check_licences(params)
    generator = generator or get_generator(params.backend, device)
    check_views_accepted(generator, images)  # before any work on the views
    timings: dict[str, float] = {}
    views = upscale_views(clean_views(images, params, timings), params, device, timings)
    shape = make_shape(views, params, generator, timings, device)
    textured = texture_mesh(shape, views, params, name, timings, device)
    timings["total"] = sum(timings.values())
    return GeneratedAsset(
        textured.mesh,
        textured.glb,
        params,
        generator.name,
        generator.version,
        timings,
        [*views.warnings, *shape.warnings],
        textured.texture_coverage,
        shape.mesh.is_watertight,
        textured.lods,
        textured.polygon,
    )
