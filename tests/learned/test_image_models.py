"""Learned upscalers (Real-ESRGAN through spandrel, Stable Diffusion ×4 through diffusers) and rembg's ONNX
background removers, each from a tiny model saved in the published file layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from inference.images.background import remove_background
from inference.images.upscale import upscale_image
from inference.runtime.weights import WeightsMissing
from tests.support import SAMPLES, bare_env, meshmill
from tests.support.clients import validate_gltf
from tests.support.tiny_diffusers import build_realesrgan, build_rembg_onnx, build_sd_upscaler


@pytest.fixture(scope="module")
def image_models(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("image-models")
    build_realesrgan(root / "upscalers/RealESRGAN_x4plus.pth", scale=4)
    build_realesrgan(root / "upscalers/RealESRGAN_x2plus.pth", scale=2)
    build_sd_upscaler(root / "stabilityai/stable-diffusion-x4-upscaler")
    # darker than the white backdrop → object: sigmoid(-4·(r+g+b) + 1) on rembg's normalised input
    for name in ("u2net", "isnet-general-use", "birefnet-general"):
        build_rembg_onnx(root / f"rembg/{name}.onnx", (-4.0, -4.0, -4.0), 1.0)
    return root


@pytest.fixture
def models(image_models, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("MESHMILL_MODELS_DIR", str(image_models))
    monkeypatch.delenv("REMBG_HOME", raising=False)
    monkeypatch.delenv("U2NET_HOME", raising=False)
    return image_models


def disc_on_white(size: int = 96) -> tuple[Image.Image, np.ndarray]:
    image = Image.new("RGB", (size, size), (255, 255, 255))
    ImageDraw.Draw(image).ellipse((20, 16, 76, 80), fill=(150, 40, 30))
    return image, np.asarray(image)[..., 0] < 200


def test_realesrgan_runs_the_saved_network_and_keeps_alpha(models):
    from spandrel.architectures.ESRGAN.__arch.RRDB import RRDBNet

    image = Image.open(SAMPLES / "soccer_ball.png").resize((40, 32))
    out = upscale_image(image, 4, "realesrgan-x4", "cpu")
    assert (out.size, out.mode) == ((160, 128), "RGBA")
    net = RRDBNet(num_filters=8, num_blocks=1, scale=4)
    net.load_state_dict(torch.load(models / "upscalers/RealESRGAN_x4plus.pth")["params_ema"])
    with torch.no_grad():
        direct = net(torch.from_numpy(np.asarray(image.convert("RGB"), np.float32) / 255).permute(2, 0, 1)[None]).clamp(0, 1)
    expected = np.round(direct[0].permute(1, 2, 0).numpy() * 255)
    assert np.abs(np.asarray(out)[..., :3].astype(float) - expected).max() <= 1
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(upscale_image(image, 4).getchannel("A")))
    # a ×4 network asked for ×2 is followed by a downscale; the ×2 network gives ×2 itself
    assert upscale_image(image, 2, "realesrgan-x4", "cpu").size == (80, 64)
    assert upscale_image(image, 2, "realesrgan-x2", "cpu").size == (80, 64)


def test_stable_diffusion_x4_upscales_from_its_folder(models):
    image = Image.open(SAMPLES / "soccer_ball.png").resize((24, 24))
    first, again = upscale_image(image, 4, "sd-x4", "cpu"), upscale_image(image, 4, "sd-x4", "cpu")
    assert (first.size, first.mode) == ((96, 96), "RGBA")
    assert np.array_equal(np.asarray(first), np.asarray(again))  # seeded
    assert not np.array_equal(np.asarray(first)[..., :3], np.asarray(upscale_image(image, 4))[..., :3])


def test_missing_upscaler_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MESHMILL_MODELS_DIR", str(tmp_path))
    with pytest.raises(WeightsMissing, match=f"(?s)upscaler realesrgan-x4: weights not found.*{tmp_path}/upscalers/RealESRGAN_x4plus.pth"):
        upscale_image(Image.new("RGB", (32, 32)), 2, "realesrgan-x4")


@pytest.mark.parametrize("remover", ["u2net", "isnet-general-use", "birefnet-general"])
def test_rembg_model_from_the_models_folder_cuts_out_the_object(models, remover):
    image, truth = disc_on_white()
    cut = remove_background(image, remover)  # each through rembg's own session class for that model
    mask = np.asarray(cut.getchannel("A")) > 127
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert cut.mode == "RGBA" and iou > 0.9


def test_generate_with_learned_remover_and_upscaler(models, tmp_path):
    image, _ = disc_on_white(160)
    image.save(tmp_path / "disc.png")
    out = tmp_path / "disc.glb"
    meshmill(
        bare_env(MESHMILL_MODELS_DIR=str(models)),
        "generate",
        str(tmp_path / "disc.png"),
        "-o",
        str(out),
        "--background",
        "u2net",
        "--upscaler",
        "realesrgan-x2",
        "--upscale",
        "2",
        "--preset",
        "mobile",
        "--texture-size",
        "512",
    )
    (report,) = validate_gltf(out)
    assert report["errors"] == 0
    bad = meshmill(bare_env(), "generate", str(tmp_path / "disc.png"), "-o", str(out), "--upscaler", "waifu2x", check=False)
    assert bad.returncode == 2 and "upscaler 'waifu2x' is unknown: choose one of builtin, realesrgan-x4" in bad.stderr
