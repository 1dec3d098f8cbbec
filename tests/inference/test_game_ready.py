"""Levels of detail and quad retopology: what each level reads from the one atlas, how regular the quads are
and how close to the dense surface, and the files as engines read them (the Khronos validator, Blender,
trimesh)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import trimesh
from PIL import Image
from scipy.spatial import cKDTree

from inference.generators import get_generator
from inference.mesh.audit import audit_glb
from inference.mesh.cleanup import MeshError
from inference.mesh.export import obj_files
from inference.mesh.remesh import QuadSurface, quad_count, quad_remesh, regularity
from inference.params import GenerationParams, ParameterError
from inference.pipeline import clean_views, make_shape, texture_mesh, upscale_views
from tests.support import SAMPLES
from tests.support.clients import blender_import, validate_gltf

PARAMS = GenerationParams.resolve("mobile", texture_size=512, lods=3, remesh="quad", uv_mode="box")


@pytest.fixture(scope="module")
def duck():
    """The duck at the mobile budget: quads, a normal map and three further levels, stage by stage (so the
    dense surface is at hand)."""
    views = upscale_views(clean_views({"front": Image.open(SAMPLES / "duck.png")}, PARAMS), PARAMS)
    shape = make_shape(views, PARAMS, get_generator("builtin"))
    return shape, texture_mesh(shape, views, PARAMS, name="duck")


def surface_colours(mesh: trimesh.Trimesh, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points spread over the mesh's surface and the base colour its UVs read there (v up)."""
    rng = np.random.default_rng(seed)
    area = mesh.area_faces / mesh.area_faces.sum()
    face = rng.choice(len(mesh.faces), count, p=area)
    bary = rng.dirichlet(np.ones(3), count)
    corners = np.asarray(mesh.faces)[face]
    points = np.einsum("nk,nkd->nd", bary, np.asarray(mesh.vertices)[corners])
    uv = np.einsum("nk,nkd->nd", bary, np.asarray(mesh.visual.uv)[corners])
    image = np.asarray(mesh.visual.material.baseColorTexture.convert("RGB"), np.float64)
    size = image.shape[0]
    pixel = np.clip(np.round([(1 - uv[:, 1]) * size - 0.5, uv[:, 0] * size - 0.5]).astype(int), 0, size - 1)
    return points, image[pixel[0], pixel[1]]


def test_each_level_halves_the_faces_and_reads_the_same_colours_from_the_one_atlas(duck):
    _, textured = duck
    base = textured.mesh
    assert [level.visual.material for level in textured.lods] == [base.visual.material] * 3
    reference_points, reference = surface_colours(base, 200_000, 0)
    tree = cKDTree(reference_points)
    for number, level in enumerate(textured.lods, 1):
        assert len(level.faces) <= 1.05 * len(base.faces) / 2**number
        assert len(level.faces) >= 0.5 * len(base.faces) / 2**number
        points, colours = surface_colours(level, 3000, number)
        nearest = reference[tree.query(points)[1]]
        difference = np.abs(colours - nearest).mean(axis=1)
        # a level whose UVs left the atlas would read colours of another part (control: the same points, UVs scrambled)
        scrambled = np.abs(colours[np.random.default_rng(9).permutation(len(colours))] - nearest).mean(axis=1)
        assert np.median(difference) < 6 and np.median(difference) < np.median(scrambled) / 4, (number, np.median(difference))


def test_the_quads_cover_the_budget_regularly_on_the_dense_surface(duck):
    shape, _ = duck
    assert abs(len(shape.mesh.faces) - PARAMS.target_faces) <= 0.05 * PARAMS.target_faces
    figures = regularity(QuadSurface(shape.mesh, shape.polygon))
    assert figures["quad_fraction"] > 0.98 and figures["regular_vertex_fraction"] > 0.9, figures
    extent = np.ptp(shape.dense.vertices, axis=0).max()
    distance = cKDTree(shape.dense.vertices).query(shape.mesh.sample(5000, seed=1))[0] / extent
    assert np.median(distance) < 0.005 and np.percentile(distance, 99) < 0.03


def test_the_glb_holds_the_levels_as_msft_lod_and_blender_imports_each_with_the_normal_map(duck, tmp_path):
    _, textured = duck
    path = tmp_path / "duck.glb"
    path.write_bytes(textured.glb)
    (report,) = validate_gltf(path)
    assert (report["errors"], report["warnings"]) == (0, 0), report["messages"]
    audit = audit_glb(textured.glb)
    assert audit.faces == len(textured.mesh.faces) and audit.problems == []  # the scene shows level 0
    assert audit.lod_faces == [len(level.faces) for level in textured.lods]
    blender = blender_import(path)
    assert blender["objects"] == ["duck_LOD0", "duck_LOD1", "duck_LOD2", "duck_LOD3"] and blender["materials"] == ["duck_material"]
    assert blender["normal_from"] == ["NORMAL_MAP", "TEX_IMAGE"] and blender["normal_space"] == "TANGENT"


def test_the_obj_keeps_the_quads_and_writes_a_file_per_level(duck, tmp_path):
    shape, textured = duck
    files = obj_files(textured.mesh, "duck", textured.lods, textured.polygon)  # the placed mesh's (a sliver may go)
    assert {"duck.obj", "duck.mtl", "duck_LOD1.obj", "duck_LOD2.obj", "duck_LOD3.obj"} <= set(files)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    lines = [line.split() for line in files["duck.obj"].decode().splitlines() if line.startswith("f ")]
    quads = sum(len(line) == 5 for line in lines)
    assert quads >= 0.995 * quad_count(shape.polygon)  # box charts cut no quad along its diagonal (a folded one is two triangles)
    assert 2 * quads + sum(len(line) == 4 for line in lines) == len(textured.mesh.faces)
    blender = blender_import(tmp_path / "duck.obj")
    assert blender["quads"] == quads and blender["faces"] == len(lines)
    assert len(trimesh.load(tmp_path / "duck.obj", force="mesh").faces) == len(textured.mesh.faces)  # trimesh splits each quad
    assert blender["normal_from"] == ["NORMAL_MAP", "TEX_IMAGE"]
    for number, level in enumerate(textured.lods, 1):
        loaded = trimesh.load(tmp_path / f"duck_LOD{number}.obj", force="mesh")
        assert len(loaded.faces) == len(level.faces) and loaded.visual.material.image is not None


def quad_torus(rows: int, columns: int) -> QuadSurface:
    """A rows × columns grid of quads closed into a torus: every vertex joins four quads."""
    u, v = np.meshgrid(np.arange(columns), np.arange(rows))
    angle_u, angle_v = 2 * np.pi * u.ravel() / columns, 2 * np.pi * v.ravel() / rows
    vertices = np.stack([(2 + np.cos(angle_v)) * np.cos(angle_u), (2 + np.cos(angle_v)) * np.sin(angle_u), np.sin(angle_v)], 1)
    r, c = (index.ravel() for index in np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij"))

    def at(rr: np.ndarray, cc: np.ndarray) -> np.ndarray:
        return (rr % rows) * columns + cc % columns

    quads = np.stack([at(r, c), at(r, c + 1), at(r + 1, c + 1), at(r + 1, c)], axis=1)
    triangles = quads[:, [0, 1, 2, 0, 2, 3]].reshape(-1, 3)
    return QuadSurface(trimesh.Trimesh(vertices, triangles, process=False), np.repeat(np.arange(len(quads)), 2))


def test_regularity_counts_quads_and_four_edge_interior_vertices():
    assert regularity(quad_torus(8, 12)) == {"quad_fraction": 1.0, "regular_vertex_fraction": 1.0}
    cube = trimesh.creation.box()  # its triangles paired into six quads: every corner has three edges
    pairs = np.argsort(np.argmax(np.abs(cube.face_normals), axis=1) * 2 + (cube.face_normals.sum(axis=1) > 0), kind="stable")
    polygon = np.empty(12, np.int64)
    polygon[pairs] = np.arange(12) // 2
    assert regularity(QuadSurface(cube, polygon)) == {"quad_fraction": 1.0, "regular_vertex_fraction": 0.0}
    split = QuadSurface(cube, np.arange(12))  # the same surface as twelve triangles
    assert regularity(split)["quad_fraction"] == 0.0


def test_a_surface_instant_meshes_cannot_remesh_fails_with_a_clear_error():
    """A thin six-sided needle: Instant Meshes returns an empty mesh for it, directly and from the subdivided proxy."""
    needle = trimesh.creation.cylinder(0.01, 5, sections=6)
    with pytest.raises(MeshError, match=re.escape("quad retopology failed: Instant Meshes returned an empty or broken mesh")):
        quad_remesh(needle, 500)


def test_lods_and_remesh_are_checked_like_every_knob():
    with pytest.raises(ParameterError, match="remesh 'tris' is unknown: choose one of none, quad"):
        GenerationParams.resolve(remesh="tris")
    with pytest.raises(ParameterError, match=r"lods=5.*range 0–4"):
        GenerationParams.resolve(lods=5)
