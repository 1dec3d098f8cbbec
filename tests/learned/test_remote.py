"""The remote backend against real HTTP servers: ``meshmill model-server`` serving the tiny Hunyuan model
through the api_server protocol, and small servers that are down, slow, failing or answer garbage."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path

import httpx
import pytest
import trimesh
from PIL import Image

from inference.generators import get_generator
from inference.generators.remote import RemoteError
from inference.params import GenerationParams
from inference.pipeline import clean_views, generate_asset, upscale_views
from tests.support import SAMPLES, bare_env, meshmill
from tests.support.clients import validate_gltf
from tests.support.servers import free_port, reply


def png_base64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_the_server_speaks_the_api_server_protocol(model_server):
    body = {
        "image": png_base64(SAMPLES / "duck.png"),
        "seed": 3,
        "octree_resolution": 64,
        "num_inference_steps": 2,
        "guidance_scale": 5.0,
        "face_count": 600,
        "texture": False,
        "type": "glb",
    }
    response = httpx.post(f"{model_server}/generate", json=body, timeout=120)
    assert response.status_code == 200 and response.headers["content-type"] == "model/gltf-binary"
    mesh = trimesh.load(io.BytesIO(response.content), file_type="glb", force="mesh")
    assert abs(len(mesh.faces) - 600) <= 30
    textured = httpx.post(f"{model_server}/generate", json={**body, "texture": True}, timeout=120)
    scene = trimesh.load(io.BytesIO(textured.content), file_type="glb")
    (geometry,) = scene.geometry.values()
    assert geometry.visual.material.baseColorTexture is not None
    status = httpx.get(f"{model_server}/status").json()
    assert status["backend"] == "hunyuan3d-2" and status["views"] == ["front"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"image": "not base64!"}, "image: not valid base64"),
        ({"image": base64.b64encode(b"GIF89a broken").decode()}, "image:"),
        ({"image": png_base64(SAMPLES / "duck.png"), "num_inference_steps": 500}, "steps=500 is out of range for backend 'hunyuan3d-2'"),
        ({"image": png_base64(SAMPLES / "duck.png"), "mv_images": {"left": png_base64(SAMPLES / "duck.png")}}, "cannot use the left view"),
    ],
)
def test_bad_requests_get_the_api_server_error_shape(model_server, body, message):
    response = httpx.post(f"{model_server}/generate", json=body, timeout=60)
    assert response.status_code == 400
    payload = response.json()
    assert payload["error_code"] == 1 and message in payload["text"]


def test_generate_with_a_remote_preset_through_the_server(model_server, tmp_path):
    out = tmp_path / "duck.glb"
    meshmill(
        bare_env(MESHMILL_REMOTE_HUNYUAN3D_2_1_URL=model_server),
        "generate",
        str(SAMPLES / "duck.png"),
        "-o",
        str(out),
        "--backend",
        "hunyuan3d-2.1",
        "--steps",
        "2",
        "--octree-resolution",
        "64",
        "--faces",
        "800",
        "--texture-size",
        "512",
    )
    (report,) = validate_gltf(out)
    assert (report["errors"], report["warnings"]) == (0, 0)
    assert abs(report["info"]["totalTriangleCount"] - 800) <= 40


def test_trellis2_through_the_model_server_with_its_pipeline_type_and_three_samplers(model_server, tmp_path):
    """The served tiny model takes the knobs it shares with TRELLIS.2 (steps, seed) and names the ones it does not use."""
    out = tmp_path / "duck.glb"
    env = bare_env(MESHMILL_REMOTE_TRELLIS2_URL=model_server)
    knobs = ("--pipeline-type", "512", "--steps", "2", "--stage2-steps", "3", "--stage3-steps", "4", "--stage3-guidance", "2.5")
    result = meshmill(env, "generate", str(SAMPLES / "duck.png"), "-o", str(out), "--backend", "trellis2", *knobs, "--faces", "800",
                      "--texture-size", "512")  # fmt: skip
    (report,) = validate_gltf(out)
    assert (report["errors"], report["warnings"]) == (0, 0)
    assert abs(report["info"]["totalTriangleCount"] - 800) <= 40
    assert "does not use pipeline_type, stage2_guidance_scale, stage2_steps, stage3_guidance_scale, stage3_steps" in result.stderr


def test_a_remote_backend_without_an_address_says_which_variable_to_set(tmp_path):
    result = meshmill(
        bare_env(), "generate", str(SAMPLES / "duck.png"), "-o", str(tmp_path / "x.glb"), "--backend", "direct3d-s2", check=False
    )
    assert result.returncode == 1 and "set MESHMILL_REMOTE_DIRECT3D_S2_URL" in result.stderr


# --- servers that misbehave ------------------------------------------------------------------------


def box_glb() -> bytes:
    return trimesh.creation.box((1.0, 2.0, 1.0)).export(file_type="glb")


def remote(monkeypatch: pytest.MonkeyPatch, url: str, **env: str):  # noqa: ANN201
    monkeypatch.setenv("MESHMILL_REMOTE_URL", url)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return get_generator("remote")


def front_views():  # noqa: ANN201
    params = GenerationParams()
    return upscale_views(clean_views({"front": Image.open(SAMPLES / "duck.png")}, params), params)


def test_a_failing_server_is_retried_and_its_answer_used(monkeypatch, fake_server):
    server = fake_server(
        lambda h, n: (
            reply(h, 503, b'{"text": "busy", "error_code": 1}', "application/json")
            if n == 1
            else reply(h, 200, box_glb(), "model/gltf-binary")
        )
    )
    generator = remote(monkeypatch, server.url)
    asset = generate_asset(
        {"front": Image.open(SAMPLES / "duck.png")}, GenerationParams(backend="remote", target_faces=500, texture_size=512), generator
    )
    assert asset.faces > 0 and asset.model_version == server.url
    assert len(server.bodies) == 2 and server.bodies[0] == server.bodies[1]  # the same request, sent again


def test_a_server_that_is_down_fails_clearly_after_the_retries(monkeypatch):
    generator = remote(monkeypatch, f"http://127.0.0.1:{free_port()}", MESHMILL_REMOTE_ATTEMPTS="2")
    with pytest.raises(RemoteError, match=r"/generate failed after 2 attempt\(s\): cannot connect"):
        generator.generate(front_views(), GenerationParams(backend="remote"))


def test_a_slow_server_times_out_without_a_second_request(monkeypatch, fake_server):
    server = fake_server(lambda h, n: (time.sleep(3), reply(h, 200, box_glb(), "model/gltf-binary")))
    generator = remote(monkeypatch, server.url, MESHMILL_REMOTE_TIMEOUT="1", MESHMILL_REMOTE_ATTEMPTS="3")
    with pytest.raises(RemoteError, match="did not answer within 1 s"):
        generator.generate(front_views(), GenerationParams(backend="remote"))
    time.sleep(2.5)  # long enough for a re-sent request to have arrived
    assert len(server.bodies) == 1  # the server is still working on the first: never queue a second copy


@pytest.mark.parametrize(
    ("status", "body", "content_type", "message"),
    [
        (200, b"<html>proxy login</html>", "text/html", "not a GLB (24 bytes starting '<html>proxy login</html>')"),
        (200, b"glTF\x02\x00\x00\x00garbage", "model/gltf-binary", "a GLB that cannot be read"),
        (
            404,
            b'{"text": "NETWORK ERROR DUE TO HIGH TRAFFIC", "error_code": 1}',
            "application/json",
            "HTTP 404: NETWORK ERROR DUE TO HIGH TRAFFIC",
        ),
    ],
)
def test_garbage_and_refusals_are_named(monkeypatch, fake_server, status, body, content_type, message):
    generator = remote(monkeypatch, fake_server(lambda h, n: reply(h, status, body, content_type)).url)
    with pytest.raises(RemoteError) as caught:
        generator.generate(front_views(), GenerationParams(backend="remote"))
    assert message in str(caught.value)


def test_trellis_gets_its_two_samplers_and_every_view(monkeypatch, fake_server):
    server = fake_server(lambda h, n: reply(h, 200, box_glb(), "model/gltf-binary"))
    monkeypatch.setenv("MESHMILL_REMOTE_TRELLIS_URL", server.url)
    generator = get_generator("trellis")
    duck = Image.open(SAMPLES / "duck.png")
    params = GenerationParams(backend="trellis", seed=9)
    generator.generate(upscale_views(clean_views({"front": duck, "left": duck}, params), params), params)
    (body,) = [json.loads(b) for b in server.bodies]
    assert (body["num_inference_steps"], body["guidance_scale"], body["stage2_steps"], body["stage2_guidance_scale"]) == (12, 7.5, 12, 3.0)
    assert body["seed"] == 9 and body["type"] == "glb" and body["texture"] is False and "octree_resolution" not in body
    assert list(body["mv_images"]) == ["left"]
    assert Image.open(io.BytesIO(base64.b64decode(body["mv_images"]["left"]))).mode == "RGBA"


def test_trellis2_sends_its_mode_and_its_three_samplers(monkeypatch, fake_server):
    server = fake_server(lambda h, n: reply(h, 200, box_glb(), "model/gltf-binary"))
    monkeypatch.setenv("MESHMILL_REMOTE_TRELLIS2_URL", server.url)
    generator = get_generator("trellis2")
    assert generator.accepts_views == {"front"}
    params = GenerationParams(backend="trellis2", seed=5, stage3_steps=20)
    generator.generate(front_views(), params)
    (body,) = [json.loads(b) for b in server.bodies]
    samplers = [body[k] for k in ("num_inference_steps", "guidance_scale", "stage2_steps", "stage2_guidance_scale")]
    assert samplers == [12, 7.5, 12, 7.5] and (body["stage3_steps"], body["stage3_guidance_scale"]) == (20, 1.0)
    assert (body["pipeline_type"], body["seed"]) == ("1024_cascade", 5) and "octree_resolution" not in body and "mv_images" not in body
