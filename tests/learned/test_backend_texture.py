"""``--texture-source backend``: a model server's own textured surface (a synthetic one with PBR maps, as TRELLIS.2
answers) carried onto the budget mesh, through `generate` and through `convert`; and the refusals where a backend
gives no texture."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable

import numpy as np
import pytest
import trimesh
from PIL import Image

from assets.model_assets import stored_shape
from catalog.keys import painted_mesh_key
from inference.generators import get_generator
from inference.generators.base import TextureUnavailable
from inference.mesh.normal_map import vertex_tangents
from inference.params import GenerationParams
from inference.pipeline import generate_asset
from tests.support import SAMPLES, bare_env, blob_store, find_json, meshmill, scrubbed_env
from tests.support.clients import blender_import, validate_gltf
from tests.support.painted import BACK, FRONT_MINUS_X, FRONT_PLUS_X, ROUGHNESS, TILT, TOP, painted_glb
from tests.support.servers import reply

MOBILE = ("--preset", "mobile", "--faces", "1500", "--texture-size", "512")


@pytest.fixture
def painting_server(fake_server) -> Callable[..., object]:  # noqa: ANN001
    """A model server answering the painted sphere when asked for a texture (``textured``: or an untextured one)."""

    def start(textured: bool = True):  # noqa: ANN202
        holder = {}

        def answer(handler, number: int) -> None:  # noqa: ANN001
            asked = json.loads(holder["server"].bodies[number - 1])["texture"]
            reply(handler, 200, painted_glb(textured=textured and asked), "model/gltf-binary")

        holder["server"] = fake_server(answer)
        return holder["server"]

    return start


def colours_at_vertices(mesh: trimesh.Trimesh, picture: Image.Image) -> np.ndarray:
    image = np.asarray(picture.convert("RGB")).astype(float)
    h, w, _ = image.shape
    uv = mesh.visual.uv
    return image[np.round((1 - uv[:, 1]) * (h - 1)).astype(int), np.round(uv[:, 0] * (w - 1)).astype(int)]


def assert_carries_the_painted_sphere(glb: bytes) -> None:
    """Top red, the front's halves blue and cyan (not mirrored), the back yellow (the backend's, not the front's),
    metal on top only, the given roughness, and the normal map's lean towards +u of the sphere, in object space."""
    mesh = trimesh.load(io.BytesIO(glb), file_type="glb", force="mesh", process=False)
    material = mesh.visual.material
    assert material.metallicRoughnessTexture is not None and material.normalTexture is not None
    assert (material.metallicFactor, material.roughnessFactor) == (1.0, 1.0)
    low, high = mesh.bounds
    centre, radius = (low + high) / 2, (high - low).max() / 2
    v = (mesh.vertices - centre) / radius
    colour = colours_at_vertices(mesh, material.baseColorTexture)
    low_front = (v[:, 1] < -0.3) & (v[:, 2] > 0.4)
    regions = {"top": (v[:, 1] > 0.4, TOP), "back": ((v[:, 1] < -0.3) & (v[:, 2] < -0.6), BACK)}
    regions |= {"front -x": (low_front & (v[:, 0] < -0.3), FRONT_MINUS_X), "front +x": (low_front & (v[:, 0] > 0.3), FRONT_PLUS_X)}
    for name, (where, wanted) in regions.items():
        assert where.sum() > 20, name
        assert np.median(np.abs(colour[where] - wanted).max(axis=1)) < 12, name
    surface = colours_at_vertices(mesh, material.metallicRoughnessTexture) / 255
    assert surface[v[:, 1] > 0.4, 2].mean() > 0.95 and surface[v[:, 1] < -0.4, 2].mean() < 0.05  # metallic: blue
    assert abs(np.median(surface[:, 1]) - ROUGHNESS) < 0.02  # roughness: green
    # the normal map, read back as a shader does with the tangents the file's mesh implies
    normals = mesh.vertex_normals
    tangents = vertex_tangents(mesh.vertices, mesh.faces, mesh.visual.uv, normals)
    local = colours_at_vertices(mesh, material.normalTexture) / 255 * 2 - 1
    bent = local[:, :1] * tangents[:, :3] + local[:, 1:2] * tangents[:, 3:] * np.cross(normals, tangents[:, :3]) + local[:, 2:] * normals
    around = np.stack([v[:, 2], np.zeros(len(v)), -v[:, 0]], axis=1)  # the sphere's direction of increasing u
    around /= np.linalg.norm(around, axis=1, keepdims=True).clip(1e-9)
    wanted = TILT[0] * around + TILT[2] * normals
    middle = np.abs(v[:, 1]) < 0.5
    cosine = (
        np.einsum("ij,ij->i", bent[middle], wanted[middle]) / np.linalg.norm(bent[middle], axis=1) / np.linalg.norm(wanted[middle], axis=1)
    )
    assert np.median(cosine) > np.cos(np.radians(8))


def test_generate_carries_the_servers_texture_and_pbr_maps(painting_server, tmp_path):
    server = painting_server()
    out, fbx = tmp_path / "painted.glb", tmp_path / "painted.fbx"
    env = bare_env(MESHMILL_REMOTE_URL=server.url)
    meshmill(env, "generate", str(SAMPLES / "duck.png"), "-o", str(out), "-o", str(fbx), "--backend", "remote",
             "--texture-source", "backend", *MOBILE)  # fmt: skip
    assert json.loads(server.bodies[0])["texture"] is True
    (report,) = validate_gltf(out)
    assert (report["errors"], report["warnings"]) == (0, 0), report["messages"]
    assert_carries_the_painted_sphere(out.read_bytes())
    seen = blender_import(out)
    assert seen["base_color_from"] == "TEX_IMAGE"
    assert seen["metallic_from"][-1] == "TEX_IMAGE" and seen["roughness_from"][-1] == "TEX_IMAGE"
    assert seen["normal_from"] == ["NORMAL_MAP", "TEX_IMAGE"]
    # the FBX: glTF's one metallic-roughness texture as the two maps FBX has, each straight into its socket
    in_fbx = blender_import(fbx)
    assert in_fbx["metallic_from"] == ["TEX_IMAGE"] and in_fbx["roughness_from"] == ["TEX_IMAGE"]
    assert sorted(name for name, _ in in_fbx["images"]) == ["painted_basecolor", "painted_metallic", "painted_normal", "painted_roughness"]


def test_convert_with_a_backend_texture_variant_keeps_the_painted_surface(painting_server, tmp_path):
    server = painting_server()
    env = scrubbed_env(tmp_path / "home", DAGSTER_HOME=str(tmp_path / "dagster"), MESHMILL_REMOTE_URL=server.url)
    meshmill(env, "variant", "add", "painted", "--backend", "remote", "--texture-source", "backend", *MOBILE)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLES / "duck.png", inbox / "duck.png")
    meshmill(env, "convert", str(inbox), "--variant", "painted")
    (record,) = find_json(env, "--variant", "painted")
    (output,) = record["outputs"]
    assert output["status"] == "succeeded" and output["parameters"]["texture_source"] == "backend"
    store = blob_store(env)
    assert_carries_the_painted_sphere(store.get(output["blob_keys"]["glb"]))
    # re-texturing without the model reads the painted surface kept beside the mesh
    params = GenerationParams(**output["parameters"])
    assert store.get(painted_mesh_key(record["content_hash"], "painted"))[:4] == b"glTF"
    shape = stored_shape(store, record["content_hash"], "painted", params)
    assert shape.painted is not None and shape.painted.visual.material.metallicRoughnessTexture is not None


def test_a_server_that_answers_no_texture_is_named(painting_server, tmp_path):
    server = painting_server(textured=False)
    env = bare_env(MESHMILL_REMOTE_URL=server.url)
    result = meshmill(env, "generate", str(SAMPLES / "duck.png"), "-o", str(tmp_path / "x.glb"), "--backend", "remote",
                      "--texture-source", "backend", *MOBILE, check=False)  # fmt: skip
    assert result.returncode == 1
    assert f"model server {server.url} was asked for a textured mesh and answered one without a texture" in result.stderr


def test_a_backend_that_makes_no_texture_is_refused_before_any_work(tmp_path):
    result = meshmill(bare_env(), "generate", str(SAMPLES / "duck.png"), "-o", str(tmp_path / "x.glb"), "--texture-source", "backend",
                      check=False)  # fmt: skip
    assert result.returncode == 2 and "backend 'builtin' makes no texture of its own" in result.stderr
    assert not (tmp_path / "x.glb").exists()


def test_hunyuan_without_its_paint_model_names_what_is_missing(models_env):
    generator = get_generator("hunyuan3d-2")
    params = GenerationParams.resolve(None, backend="hunyuan3d-2", steps=2, octree_resolution=64, texture_source="backend")
    with pytest.raises(TextureUnavailable) as refused:
        generate_asset({"front": Image.open(SAMPLES / "duck.png")}, params, generator)
    message = str(refused.value)
    assert "Hunyuan3D-Paint" in message and "custom_rasterizer" in message
    assert str(models_env / "tencent/Hunyuan3D-2/hunyuan3d-paint-v2-0/model_index.json") in message
