"""`meshmill variant` and `meshmill convert`, the main job, as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.imagefiles import write_bad_images
from tests.orchestration.test_ingest_cli import blob_store, find_json, meshmill

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_convert_mixed_folder_makes_glbs_for_the_good_and_lists_the_bad(meshmill_env, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("duck.png", "soccer_ball.png"):
        shutil.copy(SAMPLES / name, inbox / name)
    bad = write_bad_images(inbox / "bad")
    from PIL import Image

    Image.new("RGB", (120, 120), (235, 235, 235)).save(inbox / "blank.png")  # an image with no object in it

    meshmill_env = {**meshmill_env, "DAGSTER_HOME": str(tmp_path / "dagster")}
    added = meshmill(meshmill_env, "variant", "add", "mobile", "--preset", "mobile", "--faces", "1200", "--texture-size", "512")
    assert "variant mobile: builtin, 1200 faces" in added.stdout
    variants = json.loads(meshmill(meshmill_env, "variant", "list", "--json").stdout)
    assert [(v["name"], v["target_faces"]) for v in variants] == [("mobile", 1200)]

    result = meshmill(meshmill_env, "convert", str(inbox), "--collection", "toybox", "--tag", "batch1", "--upscale", "1", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 of 3 GLBs made; 5 files refused at ingest" in result.stdout
    for name in bad:
        assert f"/{name}:" in result.stderr
    assert "blank.png images: cleaned_image:" in result.stderr and "no object found" in result.stderr
    assert (tmp_path / "dagster" / "dagster.yaml").exists()  # the persistent instance the UI reads

    records = {r["filename"]: r for r in find_json(meshmill_env, "--collection", "toybox", "--variant", "mobile")}
    assert {n: r["outputs"][0]["status"] for n, r in records.items()} == {
        "duck.png": "succeeded", "soccer_ball.png": "succeeded", "blank.png": "failed",
    }  # fmt: skip
    assert "no object found" in records["blank.png"]["outputs"][0]["error"]
    glb_key = records["duck.png"]["outputs"][0]["blob_keys"]["glb"]
    assert blob_store(meshmill_env).get(glb_key)[:4] == b"glTF"
