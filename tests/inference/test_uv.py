"""UV unwrapping in both modes: every face gets room of its own in [0, 1]², at an even texel density, unmirrored."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from inference.generators import get_generator
from inference.mesh.raster import covered_pixels
from inference.mesh.uv import box_charts, unwrap
from inference.params import UV_MODES, GenerationParams
from inference.pipeline import clean_views, make_shape, upscale_views
from tests.support import SAMPLES

GRID = 1024


@pytest.fixture(scope="module", params=["duck", "sphere"])
def mesh(request: pytest.FixtureRequest) -> trimesh.Trimesh:
    """The duck's budget mesh, and a sphere: its opposite sides project onto the same place (box charts must not overlap)."""
    if request.param == "sphere":
        return trimesh.creation.icosphere(subdivisions=3)
    params = GenerationParams.resolve("mobile")
    views = upscale_views(clean_views({"front": Image.open(SAMPLES / "duck.png")}, params), params, "cpu")
    return make_shape(views, params, get_generator("builtin", "cpu")).mesh


def signed_uv_areas(uvs: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = (uvs[faces[:, i]] for i in range(3))
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def test_box_charts_of_a_cube_are_its_six_sides_seen_from_outside():
    cube = trimesh.creation.box((2.0, 1.0, 0.5))
    uvs, faces, chart_vertex = box_charts(cube.vertices, cube.faces)
    assert len(uvs) == 24  # each of the 8 corners once per side it lies on (3 each)
    assert np.array_equal(cube.vertices[chart_vertex[faces]], cube.vertices[cube.faces])
    areas = signed_uv_areas(uvs, faces)
    assert np.allclose(areas, cube.area_faces)  # flat along the side's own axis: true size, and counter-clockwise


@pytest.mark.parametrize("mode", UV_MODES)
def test_every_face_has_room_of_its_own_at_an_even_density(mesh, mode):
    unwrapped = unwrap(mesh.vertices, mesh.faces, GRID, mode)
    assert np.array_equal(unwrapped.vertices[unwrapped.faces], mesh.vertices[mesh.faces])  # same surface, seams split
    assert unwrapped.uvs.min() >= 0.0 and unwrapped.uvs.max() <= 1.0
    areas = signed_uv_areas(unwrapped.uvs, unwrapped.faces)
    density = np.abs(areas) / mesh.area_faces
    assert np.percentile(density, 95) / np.percentile(density, 5) < 3.0  # box: between cos 54.7° and 1 of the side's
    if mode == "box":
        assert (areas > 0).all()  # no chart mirrored: what a painter sees in the texture is the surface from outside
    corners = torch.as_tensor(unwrapped.uvs[unwrapped.faces] * GRID, dtype=torch.float32)
    hits = [(faces, pixels) for faces, pixels, _ in covered_pixels(corners, GRID, GRID)]
    faces, pixels = (torch.cat(part).numpy() for part in zip(*hits, strict=True))
    _, owners = np.unique(np.unique(np.stack([pixels, faces], axis=1), axis=0)[:, 0], return_counts=True)
    shared = int((owners > 1).sum())
    assert shared <= 0.002 * len(owners), (shared, len(owners))  # charts never overlap (a pixel centre on a shared edge may tie)
