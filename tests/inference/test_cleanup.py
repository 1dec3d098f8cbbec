import numpy as np
import pytest
import torch
import trimesh
from PIL import Image, ImageDraw

from inference.generators import get_generator
from inference.mesh.cleanup import FLOATER_FRACTION, MeshError, clean_mesh, decimate, dense_surface, non_manifold_edges, orient_faces
from inference.mesh.dense_on_device import clean_dense
from inference.params import GenerationParams
from inference.pipeline import clean_views, upscale_views


@pytest.fixture(scope="module")
def dense_sphere():
    return trimesh.creation.icosphere(subdivisions=6)  # 81,920 faces


@pytest.mark.parametrize("target", [500, 5_000, 20_000, 60_000])
def test_decimation_lands_within_five_percent(dense_sphere, target):
    _, faces = decimate(dense_sphere.vertices, dense_sphere.faces, target)
    assert abs(len(faces) - target) <= 0.05 * target


def test_a_dense_generated_shape_reaches_a_small_budget():
    """246k faces from a small drawing upscaled ×2; one simplifier pass to 600 faces stalled at 3,638."""
    params = GenerationParams(target_faces=600, guidance=2, upscale=2)
    image = Image.new("RGB", (160, 160), (255, 255, 255))
    ImageDraw.Draw(image).ellipse((30, 24, 130, 136), fill=(150, 40, 30))
    vertices, faces = get_generator("builtin", "cpu").generate(upscale_views(clean_views({"front": image}, params), params), params)
    assert len(faces) > 200_000
    mesh = clean_mesh(vertices, faces, 600)
    assert abs(len(mesh.faces) - 600) <= 30 and mesh.is_watertight


def test_small_meshes_are_subdivided_up_to_the_budget():
    small = trimesh.creation.icosphere(subdivisions=2)  # 320 faces
    _, faces = decimate(small.vertices, small.faces, 5_000)
    assert abs(len(faces) - 5_000) <= 250


def test_clean_mesh_drops_floaters_and_leaves_a_watertight_mesh_with_unit_normals(dense_sphere):
    speck = trimesh.creation.icosphere(subdivisions=1, radius=0.01)
    speck.apply_translation([3, 0, 0])
    mesh = trimesh.util.concatenate([dense_sphere, speck])
    cleaned = clean_mesh(mesh.vertices, mesh.faces, 5_000)
    assert cleaned.bounds[1][0] < 1.5  # the speck is gone
    assert cleaned.is_watertight and cleaned.is_winding_consistent and cleaned.volume > 0
    assert np.allclose(np.linalg.norm(cleaned.vertex_normals, axis=1), 1.0, atol=1e-6)


def test_empty_input_is_refused():
    with pytest.raises(MeshError, match="empty mesh"):
        clean_mesh(np.zeros((0, 3)), np.zeros((0, 3), int), 1000)


def test_faces_are_wound_consistently_and_outward_on_every_piece():
    """Randomly flipped faces on a sphere, a torus (a hole) and two separate pieces, one of them inside
    out: every piece comes back consistent and with positive volume, as trimesh's fix_normals would."""
    rng = np.random.default_rng(7)
    box = trimesh.creation.box()
    inside_out = trimesh.creation.icosphere(subdivisions=2).apply_translation([3, 0, 0])
    inside_out.faces = inside_out.faces[:, ::-1]
    for mesh in (trimesh.creation.icosphere(subdivisions=4), trimesh.creation.torus(1.0, 0.3), trimesh.util.concatenate([box, inside_out])):
        faces = mesh.faces.copy()
        flipped = rng.random(len(faces)) < 0.3
        faces[flipped] = faces[flipped][:, ::-1]
        oriented = trimesh.Trimesh(mesh.vertices, orient_faces(mesh.vertices, faces), process=False)
        assert oriented.is_winding_consistent
        for piece in oriented.split(only_watertight=False):
            assert piece.volume > 0


def _awkward_surface(seed: int, soup: bool, floaters: int, repeats: int, holes: int) -> tuple[np.ndarray, np.ndarray]:
    """A noisy marching-cubes blob as a learned backend returns one, made awkward: as a soup (no shared vertices),
    with small floating pieces, repeated and degenerate faces, and corners at non-finite positions."""
    from skimage.measure import marching_cubes

    rng = np.random.default_rng(seed)
    grid = np.linspace(-1, 1, 28)
    x, y, z = np.meshgrid(grid, grid, grid, indexing="ij")
    field = 0.7 - np.sqrt(x**2 + (1.3 * y) ** 2 + z**2) + 0.05 * rng.standard_normal(x.shape)
    vertices, faces, _, _ = marching_cubes(field, 0.0)
    pieces = [(vertices, faces[:, ::-1])]
    for k in range(floaters):
        small = trimesh.creation.icosphere(subdivisions=0, radius=0.3).apply_translation([40 + 3 * k, 0, 0])
        pieces.append((np.asarray(small.vertices), np.asarray(small.faces)))
    vertices = np.concatenate([v for v, _ in pieces])
    offsets = np.cumsum([0] + [len(v) for v, _ in pieces[:-1]])
    faces = np.concatenate([f + o for (_, f), o in zip(pieces, offsets, strict=True)])
    if soup:
        vertices, faces = vertices[faces.reshape(-1)], np.arange(3 * len(faces)).reshape(-1, 3)
    picked = rng.integers(0, len(faces), repeats)
    faces = np.concatenate([faces, faces[picked][:, ::-1], faces[picked][:, [0, 0, 1]]])  # repeats, and degenerate faces
    vertices = vertices.copy()
    vertices[rng.integers(0, len(vertices), holes)] = np.nan
    return vertices, faces


@pytest.mark.parametrize(
    ("seed", "soup", "floaters", "repeats", "holes"),
    [(0, False, 0, 0, 0), (1, True, 2, 30, 5), (2, False, 3, 200, 0), (3, True, 0, 0, 40)],
)
def test_the_dense_clean_up_on_the_gpu_does_what_the_cpu_does(seed, soup, floaters, repeats, holes):
    """On CUDA the dense surface is cleaned in torch (``dense_on_device``): run here on the CPU, it gives the numpy
    path's vertices, in the same order, and its faces, on meshes a backend could return."""

    vertices, faces = _awkward_surface(seed, soup, floaters, repeats, holes)
    expected = dense_surface(vertices, faces, device="cpu")
    finite = faces[np.isfinite(vertices).all(axis=1)[faces].all(axis=1)]
    got_vertices, got_faces = clean_dense(vertices, finite, 8, FLOATER_FRACTION, torch.device("cpu"))
    assert len(expected.faces) > 1000 and got_faces.shape == expected.faces.shape
    assert np.array_equal(got_faces, expected.faces)
    assert np.allclose(got_vertices, expected.vertices, rtol=0, atol=1e-9)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here; run on the GPU machine")
def test_the_dense_clean_up_on_cuda_does_what_the_cpu_does():

    vertices, faces = _awkward_surface(1, True, 2, 30, 5)
    expected, got = dense_surface(vertices, faces, device="cpu"), dense_surface(vertices, faces, device="cuda")
    assert np.array_equal(got.faces, expected.faces)
    assert np.allclose(got.vertices, expected.vertices, rtol=0, atol=1e-9)
    again = dense_surface(vertices, faces, device="cuda")  # the smoothing's sums in a fixed order: the same every run
    assert np.array_equal(again.vertices, got.vertices) and np.array_equal(again.faces, got.faces)


def test_non_manifold_edges_counts_edges_with_more_than_two_faces():
    """What ``decimate`` checks after fast-simplification's passes (which pinched an edge of the mobile duck that one
    pass did not: ``test_pipeline``'s watertight duck)."""
    tetrahedron = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]])
    assert non_manifold_edges(tetrahedron) == 0 and non_manifold_edges(tetrahedron[:0]) == 0
    fin = np.concatenate([tetrahedron, [[0, 1, 4]]])  # a third face on the edge 0–1
    assert non_manifold_edges(fin) == 1
