"""The torch rasteriser, the push-pull fill and the bake: against plain references, and CPU against CUDA where there is one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from inference.images.fill import push_pull_fill
from inference.mesh import raster
from inference.mesh.raster import covered_pixels, depth_buffer, rasterize
from tests.support import SAMPLES


def inside_reference(corners: np.ndarray, height: int, width: int) -> tuple[set, set]:
    """Pixels whose centre is clearly inside (margin 1e-3 px), and those near an edge, by float64 barycentrics."""
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    clearly, near = set(), set()
    for t, (a, b, c) in enumerate(corners.astype(np.float64)):
        area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        if abs(area) < 1e-6:
            continue

        # signed distance of every pixel centre to each edge, positive inside
        edges = ((a, b), (b, c), (c, a))
        crosses = [((q[0] - p[0]) * (ys - p[1]) - (q[1] - p[1]) * (xs - p[0])) / np.hypot(*(q - p)) for p, q in edges]
        d = np.min(np.sign(area) * np.array(crosses), axis=0)
        clearly |= {(t, int(i)) for i in np.flatnonzero(d > 1e-3)}
        near |= {(t, int(i)) for i in np.flatnonzero(np.abs(d) <= 1e-3)}
    return clearly, near


triangles = arrays(np.float64, st.tuples(st.integers(1, 12), st.just(3), st.just(2)), elements=st.floats(-8, 40, width=32))


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(triangles)
def test_covered_pixels_are_exactly_the_pixel_centres_inside(corners: np.ndarray) -> None:
    height, width = 29, 33  # triangles also reach off every side of the image
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(raster, "_chunk_budget", lambda device: 64)  # many chunks, as a big mesh would be cut
        chunks = covered_pixels(torch.from_numpy(corners), height, width)
        found = {(int(f), int(p)) for faces, pixels, _ in chunks for f, p in zip(faces, pixels, strict=True)}
    clearly, near = inside_reference(corners, height, width)
    assert clearly <= found
    assert found <= clearly | near


def test_barycentrics_reproduce_the_pixel_centre() -> None:
    corners = torch.tensor([[[1.3, 2.0], [60.2, 7.5], [20.0, 50.7]], [[3000.0, 3000.0], [4090.5, 3010.0], [3500.0, 4095.0]]])
    for f, pixels, bary in covered_pixels(corners, 4096, 4096):
        centres = torch.stack([pixels % 4096, pixels // 4096], dim=1).to(torch.float32) + 0.5
        rebuilt = (bary[:, :, None] * corners[f]).sum(dim=1)
        assert torch.allclose(rebuilt, centres, atol=2e-3)  # float32 stays exact far from the origin


def test_depth_keeps_the_nearest_surface() -> None:
    square = torch.tensor([[[0.0, 0.0], [16.0, 0.0], [16.0, 16.0]], [[0.0, 0.0], [16.0, 16.0], [0.0, 16.0]]])
    small = torch.tensor([[[4.0, 4.0], [12.0, 4.0], [12.0, 12.0]], [[4.0, 4.0], [12.0, 12.0], [4.0, 12.0]]])
    corners = torch.cat([square, small])
    toward = torch.tensor([[0.2] * 3] * 2 + [[0.7] * 3] * 2)  # larger is nearer the camera
    depth = depth_buffer(corners, toward, 20, 20)
    assert torch.isinf(depth[18, 18]) and depth[18, 18] < 0
    assert depth[1, 1] == pytest.approx(0.2) and depth[8, 8] == pytest.approx(0.7)
    face, bary = rasterize(corners, 20, 20, depth=-toward)  # smaller is nearer
    assert face[1, 1] in (0, 1) and face[8, 8] in (2, 3) and face[18, 18] == -1
    assert torch.allclose(bary.sum(dim=2)[face >= 0], torch.ones(1))


def test_push_pull_keeps_known_pixels_and_fills_the_rest_from_them() -> None:
    values = torch.zeros((3, 37, 50))
    known = torch.zeros((37, 50), dtype=torch.bool)
    values[:, 5:15, 5:20] = torch.tensor([1.0, 0.0, 0.0])[:, None, None]
    values[:, 25:35, 30:48] = torch.tensor([0.0, 0.0, 1.0])[:, None, None]
    known[5:15, 5:20] = known[25:35, 30:48] = True
    filled = push_pull_fill(values, known)
    assert torch.equal(filled[:, known], values[:, known])
    assert torch.isfinite(filled).all() and filled.min() >= 0 and filled.max() <= 1 + 1e-6
    assert filled[0, 16, 10] > 0.9 and filled[2, 33, 49] > 0.9  # beside a patch: that patch's colour
    assert torch.allclose(filled[:, 20, 25].sum(), torch.ones(1), atol=1e-5)  # between them: a mix of the two
    nothing = torch.zeros((37, 50), dtype=torch.bool)
    assert torch.equal(push_pull_fill(values, nothing), values)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here; run on the GPU machine")
@pytest.mark.parametrize("delight", [False, True])
def test_cuda_and_cpu_bake_the_same_texture(delight: bool) -> None:
    from PIL import Image

    from inference.generators import get_generator
    from inference.mesh.bake import bake_texture
    from inference.mesh.cleanup import unit_vertex_normals
    from inference.mesh.uv import unwrap
    from inference.params import GenerationParams
    from inference.pipeline import clean_views, make_shape, upscale_views

    params = GenerationParams.resolve("mobile")
    views = upscale_views(clean_views({"front": Image.open(SAMPLES / "duck.png")}, params), params, "cpu")
    mesh = make_shape(views, params, get_generator(params.backend, "cpu")).mesh
    unwrapped = unwrap(mesh.vertices, mesh.faces, params.texture_size)
    normals = unit_vertex_normals(mesh.vertices, mesh.faces)[unwrapped.source_vertex]
    cpu, cpu_coverage = bake_texture(unwrapped, normals, views, params.texture_size, "cpu", delight)
    gpu, gpu_coverage = bake_texture(unwrapped, normals, views, params.texture_size, "cuda", delight)
    assert abs(cpu_coverage - gpu_coverage) < 1e-3
    assert np.abs(cpu.astype(int) - gpu.astype(int)).mean() < 0.5


def test_a_texture_finer_than_the_views_is_baked_at_their_density_and_upsampled() -> None:
    import trimesh

    from inference.mesh.bake import bake_size, bake_texture
    from inference.mesh.cleanup import unit_vertex_normals
    from inference.mesh.uv import unwrap
    from inference.views import FramedViews

    frame = np.zeros((256, 256, 4), np.float32)
    frame[64:192, 64:192] = (0.9, 0.1, 0.1, 1.0)  # a red square: the box's front, as framed
    views = FramedViews({"front": frame})
    assert [bake_size(size, views) for size in (256, 512, 1024, 2048)] == [256, 512, 512, 512]
    box = trimesh.creation.box((1.0, 1.0, 1.0))
    unwrapped = unwrap(box.vertices, box.faces, 2048)
    normals = unit_vertex_normals(box.vertices, box.faces)[unwrapped.source_vertex]
    texture, coverage = bake_texture(unwrapped, normals, views, 2048, "cpu")
    assert texture.shape == (2048, 2048, 3) and coverage > 0.1
    reds = texture.reshape(-1, 3)
    assert np.median(reds[:, 0]) > 200 and np.median(reds[:, 1]) < 60  # seen and through colours are the square's red


def test_a_point_some_view_sees_takes_no_colour_through_the_object_from_the_others() -> None:
    """The top of a box tipped 5° towards the camera: the front view sees it at a grazing angle, the back view
    not at all. Its colour is the front's; the back's colour, seen through the box, must not mix in."""
    import trimesh

    from inference.mesh.bake import bake_texture
    from inference.mesh.cleanup import unit_vertex_normals
    from inference.mesh.uv import unwrap
    from inference.views import FramedViews

    box = trimesh.creation.box((1.0, 0.5, 1.0))
    box.apply_transform(trimesh.transformations.rotation_matrix(np.radians(5), [1, 0, 0]))
    box.unmerge_vertices()  # flat faces: every point of the top faces the same way
    green, blue = np.zeros((256, 256, 4), np.float32), np.zeros((256, 256, 4), np.float32)
    green[...] = (0.1, 0.9, 0.1, 1.0)
    blue[...] = (0.1, 0.1, 0.9, 1.0)
    unwrapped = unwrap(box.vertices, box.faces, 512)
    normals = unit_vertex_normals(box.vertices, box.faces)[unwrapped.source_vertex]
    texture, _ = bake_texture(unwrapped, normals, FramedViews({"front": green, "back": blue}), 512, "cpu")
    corners = unwrapped.vertices[unwrapped.faces]
    up = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    top = up[:, 1] / np.linalg.norm(up, axis=1) > 0.9
    uv = unwrapped.uvs[unwrapped.faces[top]].mean(axis=1)  # the top faces' centres in the texture
    colours = texture[((1 - uv[:, 1]) * 512).astype(int), (uv[:, 0] * 512).astype(int)]
    assert len(colours) and colours[:, 1].min() > 200 and colours[:, 2].max() < 40, colours


def test_where_triangles_meet_one_face_keeps_each_pixel_the_highest_every_time():
    """On CUDA the raster keeps one face per pixel, the highest-numbered (writes to one pixel land in no fixed order
    there): two triangles sharing an edge, and one covering both, each pixel once, from its highest face."""
    corners = torch.tensor([[[0, 0], [16, 0], [0, 16]], [[16, 0], [16, 16], [0, 16]], [[0, 0], [16, 0], [16, 16]]], dtype=torch.float32)
    chunks = list(covered_pixels(corners, 16, 16))
    kept = raster.highest_face_only(chunks, 16 * 16)
    faces = torch.cat([f for f, _, _ in kept])
    pixels = torch.cat([p for _, p, _ in kept])
    assert len(torch.unique(pixels)) == len(pixels)  # each pixel once
    covering = {}
    for f, p, _ in chunks:
        for face, pixel in zip(f.tolist(), p.tolist(), strict=True):
            covering[pixel] = max(covering.get(pixel, -1), face)
    assert dict(zip(pixels.tolist(), faces.tolist(), strict=True)) == covering
    assert raster.highest_face_only([], 4) == []
