"""Normal maps: the tangent frame, the bake against an independent closest-point search, and the files
(GLB with TANGENT through the Khronos validator and into Blender, whose own MikkTSpace tangents must agree; OBJ + MTL)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image
from pygltflib import GLTF2
from scipy.spatial import cKDTree

from inference.mesh.bake import texel_corners
from inference.mesh.cleanup import unit_vertex_normals
from inference.mesh.export import obj_files
from inference.mesh.normal_map import bake_normal_map, vertex_tangents
from inference.mesh.uv import unwrap
from inference.params import GenerationParams
from inference.pipeline import generate_asset
from tests.support import SAMPLES
from tests.support.clients import blender_import, validate_gltf


def angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Degrees between rows."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.degrees(np.arccos(np.clip((a * b).sum(axis=1), -1.0, 1.0)))


def test_tangents_follow_u_and_their_sign_says_whether_the_uvs_are_mirrored():
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float)  # in XY, facing +Z
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    normals = np.tile([0.0, 0.0, 1.0], (4, 1))
    plain = vertex_tangents(square, faces, square[:, :2], normals)
    assert np.allclose(plain, [[1, 0, 0, 1]] * 4)
    mirrored = vertex_tangents(square, faces, square[:, :2] * [-1, 1], normals)  # u runs along −X
    assert np.allclose(mirrored, [[-1, 0, 0, -1]] * 4)
    turned = vertex_tangents(square, faces, square[:, [1, 0]] * [-1, 1], normals)  # turned 90°: u along −Y, v along +X
    assert np.allclose(turned, [[0, -1, 0, 1]] * 4)


def test_the_map_gives_a_shader_the_dense_surfaces_normals():
    """A bumpy sphere baked onto a smooth one: decoding the map as a MikkTSpace shader does (normalize(x·T + y·B + z·N))
    gives the bumpy normals at the closest points trimesh finds, where the smooth mesh alone is far off."""
    dense = trimesh.creation.icosphere(subdivisions=6)
    v = dense.vertices
    dense.vertices = v * (1 + 0.04 * np.sin(7 * v[:, 0]) * np.sin(7 * v[:, 1]) * np.sin(7 * v[:, 2]))[:, None]
    low = trimesh.creation.icosphere(subdivisions=3)
    unwrapped = unwrap(low.vertices, low.faces, 512, "box")
    normals = unit_vertex_normals(low.vertices, low.faces)[unwrapped.source_vertex]
    tangents = vertex_tangents(unwrapped.vertices, unwrapped.faces, unwrapped.uvs, normals)
    image = bake_normal_map(unwrapped, normals, tangents, dense, 512, "cpu")
    assert image.shape == (512, 512, 3)

    texels, tri, bary = texel_corners(torch.as_tensor(unwrapped.faces), torch.as_tensor(unwrapped.uvs, dtype=torch.float32), 512)
    pick = np.random.default_rng(0).choice(len(texels), 3000, replace=False)
    texels, tri, bary = texels.numpy()[pick], tri.numpy()[pick], bary.numpy()[pick].astype(np.float64)

    def at(values: np.ndarray) -> np.ndarray:
        return (bary[:, :, None] * values[tri]).sum(axis=1)

    position, normal, tangent = at(unwrapped.vertices), at(normals), at(tangents[:, :3])
    bitangent = tangents[tri[:, 0], 3:] * np.cross(normal, tangent)
    x = image.reshape(-1, 3)[texels] / 255.0 * 2 - 1
    shaded = x[:, :1] * tangent + x[:, 1:2] * bitangent + x[:, 2:] * normal

    # exact closest points on the ten faces with the nearest centres (trimesh's triangle search; not the bake's)
    _, near = cKDTree(dense.triangles_center).query(position, k=10)
    candidates = trimesh.triangles.closest_point(dense.triangles[near.ravel()], np.repeat(position, 10, axis=0)).reshape(-1, 10, 3)
    best = np.linalg.norm(candidates - position[:, None], axis=2).argmin(axis=1)
    face, closest = near[np.arange(len(near)), best], candidates[np.arange(len(near)), best]
    weights = trimesh.triangles.points_to_barycentric(dense.triangles[face], closest)
    truth = (weights[:, :, None] * unit_vertex_normals(dense.vertices, dense.faces)[dense.faces[face]]).sum(axis=1)
    with_map, without = angles(shaded, truth), angles(normal, truth)
    assert np.median(without) > 4  # the bumps are there to be found
    assert np.median(with_map) < 0.5 and np.percentile(with_map, 99) < 1.0, (np.median(with_map), np.percentile(with_map, 99))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here; run on the GPU machine")
def test_cuda_and_cpu_bake_the_same_normal_map():
    dense = trimesh.creation.icosphere(subdivisions=5)
    dense.vertices *= 1 + 0.03 * np.sin(9 * dense.vertices[:, :1])
    low = trimesh.creation.icosphere(subdivisions=3)
    unwrapped = unwrap(low.vertices, low.faces, 256, "box")
    normals = unit_vertex_normals(low.vertices, low.faces)[unwrapped.source_vertex]
    tangents = vertex_tangents(unwrapped.vertices, unwrapped.faces, unwrapped.uvs, normals)
    cpu, gpu = (bake_normal_map(unwrapped, normals, tangents, dense, 256, device) for device in ("cpu", "cuda"))
    assert np.abs(cpu.astype(int) - gpu.astype(int)).mean() < 0.5


@pytest.fixture(scope="module")
def duck_with_normal_map():
    params = GenerationParams.resolve("mobile", texture_size=512)
    assert params.normal_map  # on by default for mobile
    return generate_asset({"front": Image.open(SAMPLES / "duck.png")}, params, name="duck")


def test_the_glb_carries_the_map_and_its_tangents_and_blender_agrees_on_them(duck_with_normal_map, tmp_path):
    path = tmp_path / "duck.glb"
    path.write_bytes(duck_with_normal_map.glb)
    (report,) = validate_gltf(path)
    assert (report["errors"], report["warnings"]) == (0, 0), report["messages"]
    gltf = GLTF2.load(path)
    (material,) = gltf.materials
    assert material.normalTexture is not None and len(gltf.images) == 2
    (primitive,) = gltf.meshes[0].primitives
    assert primitive.attributes.TANGENT is not None and gltf.accessors[primitive.attributes.TANGENT].type == "VEC4"

    blender = blender_import(path, "--tangents")
    assert blender["normal_from"] == ["NORMAL_MAP", "TEX_IMAGE"] and blender["normal_space"] == "TANGENT"
    loops = np.array(blender["loops"])
    ours = duck_with_normal_map.mesh
    ours_tangents = ours.vertex_attributes["_TANGENT"]
    # Blender is Z up: glTF (x, y, z) is Blender (x, -z, y); its UVs are v up, as ours are before export
    blender_position = loops[:, [0, 2, 1]] * [1, 1, -1]
    blender_tangent = loops[:, [5, 7, 6]] * [1, 1, -1]
    key = np.concatenate([ours.vertices, ours.visual.uv], axis=1)
    _, match = trimesh.points.PointCloud(key).kdtree.query(np.concatenate([blender_position, loops[:, 3:5]], axis=1))
    difference = angles(blender_tangent, ours_tangents[match, :3])
    assert np.median(difference) < 2 and np.percentile(difference, 95) < 10, (np.median(difference), np.percentile(difference, 95))
    assert (np.sign(loops[:, 8]) == ours_tangents[match, 3]).mean() > 0.99


def test_the_obj_names_the_map_in_its_mtl(duck_with_normal_map, tmp_path):
    files = obj_files(duck_with_normal_map.mesh, "duck")
    mtl = files["duck.mtl"].decode()
    assert "norm duck_normal.png" in mtl and "map_Bump -bm 1 duck_normal.png" in mtl
    assert Image.open(io.BytesIO(files["duck_normal.png"])).size == (512, 512)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    loaded = trimesh.load(tmp_path / "duck.obj", force="mesh")
    assert len(loaded.faces) == len(duck_with_normal_map.mesh.faces) and loaded.visual.material.image is not None
