"""The surface no view sees: coloured from the seen surface across the mesh, never from the front seen through it."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from PIL import Image

from inference.mesh.export import write_obj
from inference.mesh.unseen import dominant_colour, harmonic_fill
from inference.params import GenerationParams
from inference.pipeline import generate_asset
from inference.quality.evaluation import obj_texture
from inference.quality.render import render_views

MOBILE = GenerationParams.resolve("mobile")


def test_harmonic_fill_interpolates_along_a_strip_and_keeps_the_known_values():
    # a strip of 11 × 2 vertices: the left column known as 0, the right as 1; the rest must rise linearly
    cols = 11
    index = np.arange(2 * cols).reshape(2, cols)
    faces = np.concatenate(
        [np.stack([index[0, :-1], index[1, :-1], index[0, 1:]], 1), np.stack([index[0, 1:], index[1, :-1], index[1, 1:]], 1)]
    )
    values = np.zeros((2 * cols, 1))
    values[index[:, -1]] = 1.0
    known = np.zeros(2 * cols, bool)
    known[index[:, 0]] = known[index[:, -1]] = True
    filled = harmonic_fill(faces, values, known, pull=1e-6)[:, 0].reshape(2, cols)
    assert np.allclose(filled[:, 0], 0) and np.allclose(filled[:, -1], 1)
    assert np.all(np.diff(filled, axis=1) > 0)  # rises monotonically from the cold end to the warm one
    assert np.allclose(filled.mean(axis=0), np.linspace(0, 1, cols), atol=0.06)


def test_a_part_of_the_mesh_that_touches_nothing_seen_takes_the_target():
    faces = np.array([[0, 1, 2], [3, 4, 5]])  # two separate triangles
    values = np.array([[0.2], [0.4], [0.0], [0.0], [0.0], [0.0]])
    known = np.array([True, True, False, False, False, False])
    filled = harmonic_fill(faces, values, known, target=np.array([0.9]))[:, 0]
    assert 0.2 < filled[2] < 0.4  # held by its seen neighbours, pulled a little toward the target
    assert np.allclose(filled[3:], 0.9)
    # by the surface: the same, also where the untouched part has no area at all (a sliver the decimator left)
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 0, 0], [3, 0, 0], [4, 0, 0]], float)
    filled = harmonic_fill(faces, values, known, target=np.array([0.9]), vertices=vertices)[:, 0]
    assert 0.2 < filled[2] < 0.9 and np.allclose(filled[3:], 0.9, atol=1e-3)  # a triangle wider than the reach: nearer the target


def test_the_dominant_colour_is_the_commonest_not_the_mean():
    white, black = np.array([0.95, 0.95, 0.95]), np.array([0.05, 0.05, 0.05])
    values = np.array([white] * 7 + [black] * 3)
    assert np.allclose(dominant_colour(values, np.ones(10)), white)


def test_a_colour_on_a_cells_edge_is_still_the_dominant_one():
    """A white-ish surface at 0.80–0.86 straddles the histogram's cell edge at 5/6: split in two, each half smaller
    than a darker 40 %, it lost to it; the dominant colour is the white's, wherever the cells' edges fall."""
    rng = np.random.default_rng(0)
    light = rng.uniform(0.80, 0.86, size=(600, 1)).repeat(3, axis=1)
    dark = np.full((400, 3), 0.3)
    dominant = dominant_colour(np.concatenate([light, dark]), np.ones(1000))
    assert np.allclose(dominant, 0.83, atol=0.01), dominant


def test_the_fill_is_the_surfaces_not_its_triangulations():
    """The same sphere triangulated coarsely and finely, its front known in one colour and the rest pulled toward
    another: the back takes the same colour on both. With every edge weighing one, the coarse sphere's back kept
    far more of the front's colour (the pull works per edge, and its edges are four times as long)."""
    backs = {}
    for subdivisions in (2, 4):
        sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
        known = sphere.vertices[:, 2] > 0.2
        values = known[:, None].astype(float)
        by_edges = harmonic_fill(sphere.faces, values, known, target=np.array([0.0]))[:, 0]
        by_surface = harmonic_fill(sphere.faces, values, known, target=np.array([0.0]), vertices=sphere.vertices)[:, 0]
        back = sphere.vertices[:, 2] < -0.8
        backs[subdivisions] = by_edges[back].mean(), by_surface[back].mean()
        assert 0.0 <= by_surface.min() and by_surface.max() <= 1.0
    assert backs[2][0] > backs[4][0] + 0.1  # the old fill: the triangulation decides
    assert abs(backs[2][1] - backs[4][1]) < 0.03, backs


def card_with_a_face(size: int = 256) -> Image.Image:
    """A white disc with a red 'face' (a spot in its middle), on transparency: what a prop drawn from the front shows."""
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(xx - size / 2, yy - size / 2)
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = 235
    rgba[r < size * 0.15, :3] = [220, 20, 20]
    rgba[..., 3] = (r < size * 0.42) * 255
    return Image.fromarray(rgba, "RGBA")


@pytest.mark.parametrize("keep_lighting", [False, True])
def test_the_front_feature_stays_on_the_front(tmp_path, keep_lighting):
    """Seen from behind, a prop drawn only from the front shows none of its front's red spot (the old bake put it
    there, mirrored); from the front, the spot is where it was drawn."""
    params = MOBILE.model_copy(update={"keep_lighting": keep_lighting})
    asset = generate_asset({"front": card_with_a_face()}, params, name="card")
    out = write_obj(asset.mesh, tmp_path / "card", "card")[0]
    renders = render_views(out, ("front", "back"), size=256, half_extent=1.3, lit=False, texture=obj_texture(out))

    def red_share(image: np.ndarray) -> float:
        rgb, inside = image[..., :3].astype(int), image[..., 3] > 0
        red = (rgb[..., 0] > 150) & (rgb[..., 1] < 110) & (rgb[..., 2] < 110)
        return float((red & inside).sum() / inside.sum())

    assert red_share(renders["front"]) > 0.05
    assert red_share(renders["back"]) < 0.002, red_share(renders["back"])
    back = renders["back"][renders["back"][..., 3] > 0, :3]
    assert np.median(back, axis=0).min() > 170  # the back takes the rim's white
