"""Hunyuan3D-2 / 2mv / 2mini-turbo through hy3dgen, with tiny randomly initialised models saved in the
published layout and loaded through Meshmill's normal path (``get_generator`` → hy3dgen's from_pretrained)."""

from __future__ import annotations

import json
import shutil

import pytest
import safetensors.torch
import torch
from PIL import Image

from inference.generators import get_generator
from inference.params import GenerationParams
from inference.pipeline import generate_asset
from inference.runtime.weights import WeightsMissing
from tests.support import SAMPLES, bare_env, find_json, meshmill
from tests.support.clients import validate_gltf
from tests.support.images import write_view_set

QUICK = {"steps": 2, "octree_resolution": 64, "target_faces": 800, "texture_size": 512}


def duck() -> Image.Image:
    return Image.open(SAMPLES / "duck.png")


def test_generate_with_hunyuan3d_2_writes_a_valid_glb_within_budget(models_env, tmp_path):
    out = tmp_path / "duck.glb"
    result = meshmill(
        bare_env(MESHMILL_MODELS_DIR=str(models_env)),
        "generate",
        str(SAMPLES / "duck.png"),
        "-o",
        str(out),
        "--backend",
        "hunyuan3d-2",
        "--steps",
        "2",
        "--octree-resolution",
        "64",
        "--faces",
        "800",
        "--texture-size",
        "512",
    )
    assert result.returncode == 0, result.stderr
    assert "hunyuan3d-2 tencent/Hunyuan3D-2/hunyuan3d-dit-v2-0" in result.stdout
    (report,) = validate_gltf(out)
    assert (report["errors"], report["warnings"]) == (0, 0)
    assert abs(report["info"]["totalTriangleCount"] - 800) <= 40


@pytest.mark.parametrize(
    ("backend", "views"), [("hunyuan3d-2mv", ("front", "left", "back", "right")), ("hunyuan3d-2mini-turbo", ("front",))]
)
def test_multiview_and_turbo_models_run_end_to_end(models_env, backend, views):
    generator = get_generator(backend, "cpu")
    asset = generate_asset({v: duck() for v in views}, GenerationParams.resolve(None, backend=backend, **QUICK), generator)
    assert asset.model_name == backend and asset.glb[:4] == b"glTF"
    assert abs(asset.faces - 800) <= 40
    # placed in the views' frame: as tall as the front silhouette, centred on it
    height = asset.mesh.bounds[1, 1] - asset.mesh.bounds[0, 1]
    assert 1.0 < height < 1.9


def test_weights_are_the_saved_ones_not_a_fresh_initialisation(models_env):
    generator = get_generator("hunyuan3d-2", "cpu")
    saved = safetensors.torch.load_file(str(models_env / "tencent/Hunyuan3D-2/hunyuan3d-dit-v2-0/model.fp16.safetensors"))
    loaded = {
        f"{part}.{k}": v for part in ("model", "vae", "conditioner") for k, v in getattr(generator.pipeline, part).state_dict().items()
    }
    assert set(saved) <= set(loaded)
    for key in saved:
        assert torch.equal(loaded[key].to(torch.float16), saved[key]), key
    assert generator.pipeline.dtype == torch.float32  # fp16 weights, run in fp32 on a CPU


def test_missing_weights_name_the_folder_and_every_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MESHMILL_MODELS_DIR", str(tmp_path / "empty"))
    with pytest.raises(WeightsMissing) as caught:
        get_generator("hunyuan3d-2mv-turbo")
    message = str(caught.value)
    assert str(tmp_path / "empty") in message and "MESHMILL_MODELS_DIR" in message
    for name in (
        "hunyuan3d-dit-v2-mv-turbo/config.yaml",
        "hunyuan3d-dit-v2-mv-turbo/model.fp16.safetensors",
        "Hunyuan3D-2/hunyuan3d-vae-v2-0-turbo/model.fp16.safetensors",
    ):
        assert name in message
    result = meshmill(
        bare_env(MESHMILL_MODELS_DIR=str(tmp_path / "empty")),
        "generate",
        str(SAMPLES / "duck.png"),
        "-o",
        str(tmp_path / "x.glb"),
        "--backend",
        "hunyuan3d-2",
        check=False,
    )
    assert result.returncode == 1 and "hunyuan3d-2: weights not found" in result.stderr
    assert not (tmp_path / "x.glb").exists()


def test_models_tells_what_is_ready_and_check_runs_one(models_env):
    result = meshmill(bare_env(MESHMILL_MODELS_DIR=str(models_env), MESHMILL_REMOTE_TRELLIS_URL="http://gpu-box:8081"), "models", "--json")
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    ready = {name for name, r in rows.items() if r["ready"]}
    assert ready == {"builtin", "hunyuan3d-2", "hunyuan3d-2mv", "hunyuan3d-2mini-turbo", "trellis"}
    assert "hunyuan3d-dit-v2-mini/model.fp16.safetensors" in rows["hunyuan3d-2mini"]["weights"]
    assert "MESHMILL_REMOTE_URL" in rows["remote"]["weights"]
    assert rows["trellis"]["params"]["stage2_guidance"]["default"] == 3.0
    assert rows["hunyuan3d-2mv"]["licence"]["excluded_territories"] == ["EU", "KR", "UK"]
    trellis2 = rows["trellis2"]
    assert trellis2["params"]["pipeline_type"]["choices"] == ["512", "1024", "1024_cascade", "1536_cascade"]
    assert trellis2["params"]["pipeline_type"]["default"] == "1024_cascade" and trellis2["params"]["stage3_guidance"]["default"] == 1.0
    assert (trellis2["views"], trellis2["licence"]["commercial"], trellis2["licence"]["gated"]) == (["front"], True, True)
    assert all(r["licence"]["licence"] for r in rows.values())  # every backend, upscaler and remover has its row
    bad = meshmill(bare_env(MESHMILL_TERRITORY="Atlantis"), "models", check=False)
    assert bad.returncode == 2 and "MESHMILL_TERRITORY='ATLANTIS' is not a territory Meshmill knows" in bad.stderr and not bad.stdout
    check = meshmill(bare_env(MESHMILL_MODELS_DIR=str(models_env)), "models", "check", "hunyuan3d-2mini-turbo")
    assert "hunyuan3d-2mini-turbo ok:" in check.stdout


def test_hunyuan_variants_through_the_dagster_job_on_images_and_view_sets(meshmill_env, tiny_models, tmp_path):
    """A folder of one image and one four-view set, made by Hunyuan3D-2mv (every view) and 2mini-turbo (the front)."""
    env = {**meshmill_env, "MESHMILL_MODELS_DIR": str(tiny_models)}
    small = ("--steps", "2", "--octree-resolution", "64", "--faces", "800", "--texture-size", "512")
    meshmill(env, "variant", "add", "hy-mini", "--backend", "hunyuan3d-2mini-turbo", *small)
    meshmill(env, "variant", "add", "hy-mv", "--backend", "hunyuan3d-2mv", *small)
    variants = {v["name"]: v for v in json.loads(meshmill(env, "variant", "list", "--json").stdout)}
    mini = variants["hy-mini"]
    assert (mini["backend"], mini["steps"], mini["params"]["octree_resolution"]) == ("hunyuan3d-2mini-turbo", 2, 64)
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(SAMPLES / "duck.png", folder / "duck.png")
    write_view_set(folder, "rubber-duck", "folder")
    result = meshmill(env, "convert", str(folder), "--collection", "hy")
    assert "4 of 4 GLBs made" in result.stdout
    records = {r["filename"]: r for r in find_json(env, "--collection", "hy")}
    outputs = {(name, o["variant"]): o for name, r in records.items() for o in r["outputs"]}
    assert {key: (o["status"], o["model_name"], o["views"]) for key, o in outputs.items()} == {
        ("duck.png", "hy-mini"): ("succeeded", "hunyuan3d-2mini-turbo", ["front"]),
        ("duck.png", "hy-mv"): ("succeeded", "hunyuan3d-2mv", ["front"]),
        ("rubber-duck", "hy-mini"): ("succeeded", "hunyuan3d-2mini-turbo", ["front"]),  # a one-view model takes the front
        ("rubber-duck", "hy-mv"): ("succeeded", "hunyuan3d-2mv", ["front", "left", "back", "right"]),
    }
    mini = outputs[("duck.png", "hy-mini")]
    assert mini["model_version"] == "tencent/Hunyuan3D-2mini/hunyuan3d-dit-v2-mini-turbo"
    assert mini["parameters"]["octree_resolution"] == 64 and abs(mini["face_count"] - 800) <= 40
