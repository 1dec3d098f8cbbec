"""The built-in reads each slice's cross-section from the picture: a box seen face-on stays a box."""

import numpy as np
import pytest
import torch
import trimesh
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from inference.generators.builtin import generate_shape
from inference.generators.cross_section import part_height, runs, squareness
from inference.params import GenerationParams
from inference.quality.render import render_mesh
from inference.views import frame_views

pytest.importorskip("pybullet")


def lit_front(mesh: trimesh.Trimesh, folder, name: str) -> Image.Image:  # noqa: ANN001
    """The mesh's front, rendered lit from the upper right by a renderer that is not ours."""
    path = folder / f"{name}.obj"  # pybullet keeps a mesh by its file name
    mesh.export(path)
    return Image.fromarray(render_mesh(path, (0.0, 0.0, 1.0), size=256, half_extent=1.0), "RGBA")


def objects() -> dict[str, trimesh.Trimesh]:
    box = trimesh.creation.box(extents=(1.2, 1.0, 1.0))
    box.unmerge_vertices()  # flat faces: each corner's normal is its face's
    return {
        "box": box,
        "can": trimesh.creation.cylinder(
            radius=0.6, height=1.0, sections=96, transform=trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0])
        ),
        "ball": trimesh.creation.icosphere(subdivisions=4, radius=0.6),
    }


def square_fraction(image: Image.Image) -> float:
    rgba = torch.from_numpy(np.asarray(image, np.float32) / 255)
    mask = rgba[..., 3] > 0.5
    return float(squareness(rgba[..., :3], mask)[mask].mean())


def shape(image: Image.Image) -> trimesh.Trimesh:
    vertices, faces = generate_shape(frame_views({"front": image}, 256), GenerationParams(), torch.device("cpu"))
    return trimesh.Trimesh(vertices, faces)


def test_a_box_seen_face_on_reads_square_and_a_can_and_a_ball_round(tmp_path):
    fractions = {name: square_fraction(lit_front(mesh, tmp_path, name)) for name, mesh in objects().items()}
    assert fractions["box"] > 0.8, fractions
    assert fractions["can"] < 0.2 and fractions["ball"] < 0.2, fractions


def test_the_box_becomes_a_box_and_the_can_stays_a_can(tmp_path):
    built = {name: shape(lit_front(mesh, tmp_path, name)) for name, mesh in objects().items() if name != "ball"}
    for mesh in built.values():
        assert mesh.is_watertight and mesh.volume > 0
    # the share of its bounding box a slice fills: a square's (a super-ellipse of exponent 8: 0.98), a circle's π/4
    box = built["box"]
    assert box.volume / np.prod(box.extents) == pytest.approx(0.97, abs=0.03)
    can = built["can"]
    assert can.volume / np.prod(can.extents) == pytest.approx(np.pi / 4, abs=0.03)


def test_each_part_reads_its_own_cross_section(tmp_path):
    """A box standing on a wider drum: the box's rows read square, the drum's round."""
    box = trimesh.creation.box(extents=(0.9, 0.8, 0.9))
    box.apply_translation((0.0, 0.45, 0.0))
    box.unmerge_vertices()
    drum = trimesh.creation.cylinder(
        radius=0.3, height=1.0, sections=96, transform=trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0])
    )
    drum.apply_translation((0.0, -0.45, 0.0))
    image = lit_front(trimesh.util.concatenate([box, drum]), tmp_path, "box_on_drum")
    rgba = torch.from_numpy(np.asarray(image, np.float32) / 255)
    mask = rgba[..., 3] > 0.5
    square = squareness(rgba[..., :3], mask)
    rows = np.nonzero(mask.any(1).numpy())[0]
    top, bottom = rows.min(), rows.max()
    height = bottom - top
    box_rows = square[top + int(0.1 * height) : top + int(0.4 * height)]
    drum_rows = square[top + int(0.65 * height) : bottom - int(0.1 * height)]
    box_mask = mask[top + int(0.1 * height) : top + int(0.4 * height)]
    drum_mask = mask[top + int(0.65 * height) : bottom - int(0.1 * height)]
    assert float(box_rows[box_mask].mean()) > 0.8
    assert float(drum_rows[drum_mask].mean()) < 0.2


def test_a_flat_faced_part_wider_than_tall_is_deeper_than_tall(tmp_path):
    """A trunk, a chest, a crate lying long: as deep as the geometric mean of its width and height, where the
    old cap at its height made a flat slab of it. A cube stays a cube."""
    for extents in ((1.8, 0.6, 1.0), (1.0, 1.0, 1.0)):
        box = trimesh.creation.box(extents=extents)
        box.unmerge_vertices()
        built = shape(lit_front(box, tmp_path, f"box_{extents[0]:.1f}"))
        width, height, depth = built.extents
        assert depth / height == pytest.approx(np.sqrt(width / height), rel=0.12), built.extents


def test_a_part_spans_the_rows_its_sides_run_straight_through():
    """A lid on a box on a narrower stand: three parts, each as tall as its own rows; nothing outside the mask."""
    mask = torch.zeros(40, 30, dtype=torch.bool)
    mask[2:6, 1:29] = True  # a lid wider than the box
    mask[6:26, 5:25] = True  # the box
    mask[26:36, 12:18] = True  # the stand
    mask[30, 25] = True  # a speck beside the stand: a part of one row
    height = part_height(mask)
    assert (height[2:6, 1:29] == 4).all() and (height[6:26, 5:25] == 20).all() and (height[26:36, 12:18] == 10).all()
    assert height[30, 25] == 1 and (height[~mask] == 0).all()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), rows=st.integers(1, 40), cols=st.integers(1, 40), fill=st.floats(0.0, 1.0))
def test_part_height_lies_between_one_row_and_the_picture_on_any_mask(seed, rows, cols, fill):
    mask = torch.from_numpy(np.random.default_rng(seed).random((rows, cols)) < fill)
    height = part_height(mask)
    assert height.shape == mask.shape
    assert (height[mask] >= 1).all() and (height[mask] <= rows).all() and (height[~mask] == 0).all()


def test_flat_colour_art_keeps_a_ball_round():
    """Drawn without light, every run is evenly shaded: only its curving sides keep a disc from reading square."""
    size = 256
    yy, xx = np.mgrid[:size, :size] + 0.5
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[(xx - 128) ** 2 + (yy - 128) ** 2 < 80**2] = [200, 60, 60, 255]
    assert square_fraction(Image.fromarray(rgba, "RGBA")) < 0.05


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    size=st.integers(4, 48),
    fill=st.floats(0.0, 1.0),
)
def test_squareness_is_a_fraction_inside_the_mask_and_zero_outside_on_any_picture(seed, size, fill):
    rng = np.random.default_rng(seed)
    mask = torch.from_numpy(rng.random((size, size)) < fill)
    rgb = torch.from_numpy(rng.random((size, size, 3)).astype(np.float32)) * float(rng.choice([0.0, 1e-4, 1.0]))
    square = squareness(rgb, mask)
    assert square.shape == mask.shape and torch.isfinite(square).all()
    assert (square >= 0).all() and (square <= 1).all()
    assert (square[~mask] == 0).all()


def test_the_runs_of_an_anti_aliased_outline_follow_it_to_a_fraction_of_a_pixel():
    """A ball's outline widens by less than a pixel a row near its equator: whole-pixel runs stayed the same width for
    several rows and then stepped, which left flat bands round a round prop; the edge pixels' coverage places each end."""
    size, sub, radius, cx, cy = 64, 8, 25.3, 32.2, 31.7
    fine = (torch.arange(size * sub, dtype=torch.float64) + 0.5) / sub
    inside = ((fine[None, :] - cx) ** 2 + (fine[:, None] - cy) ** 2 <= radius**2).double()
    coverage = inside.reshape(size, sub, size, sub).mean(dim=(1, 3)).float()
    mask = coverage > 0.5
    rows = torch.arange(size, dtype=torch.float64)[:, None] + 0.5
    half_true = (radius**2 - (rows - cy) ** 2).clamp(min=0).sqrt().expand(size, size)
    near_equator = mask & ((rows - cy).abs() < 0.7 * radius)
    for cover, worst in ((None, 0.25), (coverage, 0.05)):
        centre, half = runs(mask, cover)
        error = (half.double() - half_true)[near_equator].abs().max()
        assert (error < worst) if cover is not None else (error > worst)
        if cover is not None:
            assert (centre.double() + 0.5 - cx)[near_equator].abs().max() < 0.05  # pixel centres are at + 0.5
    # a straight side keeps its place however far it lies across its pixel
    edge = torch.zeros(4, 40)
    edge[:, 10:31] = 1.0
    edge[:, 9], edge[:, 31] = 0.3, 0.6
    centre, half = runs(edge > 0.5, edge)
    assert torch.allclose(half[0, 10], torch.tensor(21.9 / 2)) and torch.allclose(centre[0, 10], torch.tensor(20.15))
