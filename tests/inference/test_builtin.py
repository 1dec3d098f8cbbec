import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from inference.generators.builtin import exponent, generate_shape, resolution
from inference.params import GenerationParams
from inference.views import frame_views


def silhouette(kind: str, size: int = 256, shaded: bool = False) -> Image.Image:
    """A flat-coloured disc or square; ``shaded``: lit as a round thing is, darker toward its left and right ends."""
    yy, xx = np.mgrid[:size, :size] + 0.5
    c, r = size / 2, size * 0.3
    inside = (xx - c) ** 2 + (yy - c) ** 2 < r * r if kind == "disc" else (np.abs(xx - c) < r) & (np.abs(yy - c) < r)
    shading = np.sqrt(np.clip(1 - ((xx - c) / r) ** 2, 0, 1)) if shaded else np.ones_like(xx)
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = (np.array([120, 160, 200]) * (0.3 + 0.7 * shading[..., None])).astype(np.uint8)
    rgba[..., 3] = np.where(inside, 255, 0)
    return Image.fromarray(rgba, "RGBA")


def shape(images, **params):
    views = frame_views(images, 256)
    v, f = generate_shape(views, GenerationParams(**params), device=torch.device("cpu"))
    return trimesh.Trimesh(v, f)


def test_one_disc_becomes_a_sphere():
    mesh = shape({"front": silhouette("disc")})
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    extents = mesh.extents
    assert extents[2] == pytest.approx(extents[0], rel=0.03)  # as deep as wide
    radius = extents[0] / 2
    assert mesh.volume == pytest.approx(4 / 3 * np.pi * radius**3, rel=0.05)


def test_four_squares_give_the_hull_at_guidance_0_and_an_elliptic_cylinder_at_5_where_their_shading_is_round():
    views = {name: silhouette("square", shaded=True) for name in ("front", "left", "back", "right")}
    box = shape(views, guidance=0.0)
    side = box.extents[0]
    assert box.volume == pytest.approx(side**3, rel=0.05)
    rounded = shape(views, guidance=5.0)
    assert rounded.volume / box.volume == pytest.approx(np.pi / 4, abs=0.03)  # ellipse inscribed in each square slice


def test_four_evenly_shaded_squares_give_a_box():
    """Every view shows a flat face with straight sides: each slice is square (a super-ellipse of exponent 8)."""
    cube = shape({name: silhouette("square") for name in ("front", "left", "back", "right")})
    assert cube.volume / np.prod(cube.extents) == pytest.approx(0.97, abs=0.03)


def test_guidance_and_steps_have_their_documented_meaning():
    assert exponent(5.0) == 2.0 and exponent(0.0) > 20 and exponent(10.0) == 1.5
    assert resolution(30) == 184 and resolution(100) == 256 and resolution(1) == 68


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here; run on the GPU machine")
def test_cuda_and_cpu_agree():
    views = frame_views({"front": silhouette("disc")}, 256)
    cpu = generate_shape(views, GenerationParams(), device=torch.device("cpu"))
    gpu = generate_shape(views, GenerationParams(), device=torch.device("cuda"))
    assert len(cpu[1]) == len(gpu[1])
    assert np.allclose(cpu[0], gpu[0], atol=1e-4)
    again = generate_shape(views, GenerationParams(), device=torch.device("cuda"))  # sums in a fixed order: the same every run
    assert np.array_equal(gpu[0], again[0]) and np.array_equal(gpu[1], again[1])
