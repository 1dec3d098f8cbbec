"""`meshmill variant` and `meshmill convert`, the main job, as a user runs them."""

from __future__ import annotations

import json
import shutil

from PIL import Image, ImageDraw

from tests.support import SAMPLES, blob_store, find_json, meshmill
from tests.support.images import write_bad_images
from tests.support.tiny_diffusers import build_realesrgan, build_rembg_onnx


def test_convert_mixed_folder_makes_glbs_for_the_good_and_lists_the_bad(meshmill_env, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("duck.png", "soccer_ball.png"):
        shutil.copy(SAMPLES / name, inbox / name)
    bad = write_bad_images(inbox / "bad")
    Image.new("RGB", (120, 120), (235, 235, 235)).save(inbox / "blank.png")  # an image with no object in it

    added = meshmill(meshmill_env, "variant", "add", "mobile", "--preset", "mobile", "--faces", "1200", "--texture-size", "512")
    assert "variant mobile: builtin, 1200 faces" in added.stdout
    variants = json.loads(meshmill(meshmill_env, "variant", "list", "--json").stdout)
    assert [(v["name"], v["target_faces"]) for v in variants] == [("mobile", 1200)]

    result = meshmill(meshmill_env, "convert", str(inbox), "--collection", "toybox", "--tag", "batch1", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 of 3 GLBs made; 5 files refused at ingest" in result.stdout
    for name in bad:
        assert f"/{name}:" in result.stderr
    assert "blank.png images: cleaned_image:" in result.stderr and "no object found" in result.stderr
    assert (tmp_path / "dagster" / "dagster.yaml").exists()  # the persistent instance the UI reads

    records = {r["filename"]: r for r in find_json(meshmill_env, "--collection", "toybox", "--variant", "mobile")}
    assert {n: r["outputs"][0]["status"] for n, r in records.items()} == {
        "duck.png": "succeeded",
        "soccer_ball.png": "succeeded",
        "blank.png": "failed",
    }
    assert "no object found" in records["blank.png"]["outputs"][0]["error"]
    glb_key = records["duck.png"]["outputs"][0]["blob_keys"]["glb"]
    assert blob_store(meshmill_env).get(glb_key)[:4] == b"glTF"


def test_every_output_records_the_image_stage_settings_that_made_it(meshmill_env, tmp_path):
    """`convert --upscale 2 --upscaler realesrgan-x2 --background u2net` (tiny models from the models folder):
    every output's parameters, and each attempt's, name those settings, with the variant's own."""
    models = tmp_path / "models"
    build_realesrgan(models / "upscalers/RealESRGAN_x2plus.pth", scale=2)
    build_rembg_onnx(models / "rembg/u2net.onnx", (-4.0, -4.0, -4.0), 1.0)  # darker than the white backdrop → object
    env = {**meshmill_env, "MESHMILL_MODELS_DIR": str(models)}
    image = Image.new("RGB", (160, 160), (255, 255, 255))
    ImageDraw.Draw(image).ellipse((30, 24, 130, 136), fill=(150, 40, 30))
    image.save(tmp_path / "disc.png")
    meshmill(env, "variant", "add", "mobile", "--preset", "mobile", "--faces", "800", "--texture-size", "512")
    meshmill(env, "variant", "add", "tiny", "--faces", "600", "--texture-size", "512", "--guidance", "2")

    meshmill(env, "convert", str(tmp_path / "disc.png"), "--upscale", "2", "--upscaler", "realesrgan-x2", "--background", "u2net")
    (record,) = find_json(env)
    assert sorted(o["variant"] for o in record["outputs"]) == ["mobile", "tiny"]
    for output in record["outputs"]:
        parameters = output["parameters"]
        assert output["status"] == "succeeded", output["error"]
        assert (parameters["upscale"], parameters["upscaler"], parameters["background"], parameters["remove_background"]) == (
            2,
            "realesrgan-x2",
            "u2net",
            True,
        )
        assert parameters["target_faces"] == {"mobile": 800, "tiny": 600}[output["variant"]]
        assert (output["model_name"], output["model_version"]) == ("builtin", "1.0")
    framed = json.loads(blob_store(env).get(f"framed/{record['content_hash']}/views.json"))
    assert framed["settings"] == {"remove_background": True, "background": "u2net", "upscale": 2, "upscaler": "realesrgan-x2"}


def test_convert_refuses_bad_image_settings_before_storing_anything(meshmill_env):
    result = meshmill(meshmill_env, "convert", str(SAMPLES / "duck.png"), "--upscaler", "waifu2x", check=False)
    assert result.returncode == 2 and "upscaler 'waifu2x' is unknown: choose one of builtin, realesrgan-x4" in result.stderr
    assert find_json(meshmill_env) == []
