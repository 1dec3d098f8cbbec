"""The web app in headless Chromium (Debian's, WebGL through SwiftShader), driven by playwright-core:
search narrows by tag and collection, the viewer draws the model (pixels checked), the wireframe and
light toggles change the picture, compare shows every variant with linked cameras, a reviewer signs in, rejects
and asks for the output as another variant. Screenshots are
kept in test-artifacts/web/."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.support import ARTIFACTS, ROOT

# One xdist worker runs the web tests: they share the package's converted catalogs (tests/web/conftest.py).
pytestmark = pytest.mark.xdist_group("web")

SHOTS = ARTIFACTS / "web"
BACKGROUND = np.array([0x30, 0x34, 0x3B])  # the viewer's clear colour


def model_pixels(path: Path) -> np.ndarray:
    """Mask of the pixels that are not the viewer's background."""
    rgb = np.asarray(Image.open(path).convert("RGB"), np.int16)
    return np.abs(rgb - BACKGROUND).sum(axis=2) > 24


def test_search_viewer_wireframe_and_compare_in_chromium(web_catalog, serve, tmp_path):
    env, ids = web_catalog
    base = serve(env)
    token = "lead-" + "c3" * 10
    review_base = serve({**env, "MESHMILL_EDIT_TOKENS": f"lead={token}"}, "--allow-edits")
    ball_desktop = next(o for o in httpx.get(f"{base}/api/sources/{ids['soccer_ball.png']}/variants").json() if o["variant"] == "desktop")
    duck_outputs = httpx.get(f"{base}/api/sources/{ids['duck.png']}/variants").json()
    mobile = next(o for o in duck_outputs if o["variant"] == "mobile")
    plan = tmp_path / "plan.json"
    views_mobile = next(o for o in httpx.get(f"{base}/api/sources/{ids['rubber-duck']}/variants").json() if o["variant"] == "mobile")
    plan.write_text(
        json.dumps(
            {
                "tag": "demo",
                "collection": "kitchen",
                "output": mobile["id"],
                "compare_image": ids["duck.png"],
                "views_output": views_mobile["id"],
                "views_collection": "kitchen",
                "review_base": review_base,
                "review_output": ball_desktop["id"],
                "review_token": token,
                "review_as": "mobile",
            }
        )
    )
    shots = tmp_path / "shots"
    shots.mkdir()
    result = subprocess.run(
        ["node", str(ROOT / "tools" / "viewer_check.mjs"), base, str(shots), str(plan)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    shutil.rmtree(SHOTS, ignore_errors=True)
    shutil.copytree(shots, SHOTS)  # kept for people to look at, pass or fail
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["errors"] == []
    # without WebGL: the preview render and why, not a blank box
    assert seen["no_webgl"]["preview"] == f"/files/outputs/{mobile['id']}/preview.png" and seen["no_webgl"]["width"] > 0
    assert "no WebGL" in seen["no_webgl"]["note"] and seen["no_webgl"]["disabled"]
    assert (seen["all"], seen["by_tag"], seen["by_collection"]) == (4, 2, 2)
    assert abs(seen["faces"] - mobile["face_count"]) <= 2  # the page loaded this output's GLB
    # its two further levels of detail (MSFT_lod): listed, and the last one shown alone when picked
    assert seen["lod_options"] == 3 and seen["lod_faces"] == mobile["lod_face_counts"][-1] <= 1.05 * mobile["face_count"] / 4
    assert model_pixels(shots / "viewer-last-lod.png").mean() > 0.03

    shaded, wire, flat = (shots / f"viewer-{n}.png" for n in ("shaded", "wireframe", "flat"))
    drawn = model_pixels(shaded)
    assert 0.05 < drawn.mean() < 0.9  # the canvas shows a model, not an empty or a flooded frame
    colours = np.asarray(Image.open(shaded).convert("RGB"))[drawn]
    assert colours.std(axis=0).mean() > 8  # shaded and textured, not one flat colour
    wire_pixels = model_pixels(wire)
    assert wire_pixels.mean() < 0.9 * drawn.mean()  # the background shows between the wireframe's edges
    assert (wire_pixels & ~drawn).mean() < 0.01  # ... within the same silhouette
    difference = np.abs(np.asarray(Image.open(flat), np.int16) - np.asarray(Image.open(shaded), np.int16)).mean()
    assert difference > 2  # the light toggle changes the picture

    assert seen["dagster_asset"].endswith("|mobile") and "/assets/textured_glb?view=partitions&partition=" in seen["dagster_asset"]
    assert seen["dagster_run"].startswith("http://127.0.0.1:3000/runs/")
    assert seen["compare_viewers"] == len(duck_outputs) == 2
    for i in range(2):
        assert model_pixels(shots / f"compare-{i}.png").mean() > 0.03
    # a view set's page shows each of its four views, loaded, all used; its search card shows the front
    assert seen["views"] == [{"view": v, "width": 192, "used": True} for v in ("front", "left", "back", "right")]
    assert seen["views_card"]["badge"] == "4 views" and seen["views_card"]["width"] == 192
    assert seen["views_card"]["src"] == f"/files/sources/{ids['rubber-duck']}/image"  # the front, the default view
    # review: signed in with a token, rejected with a note, asked again as another variant; recorded under the name
    assert seen["review"]["state"].startswith("rejected by lead") and "the lid is missing" in seen["review"]["state"]
    assert seen["review"]["message"] == "asked for it again as mobile: Dagster's remakes_sensor queues it"
    assert seen["review_seed_disabled"]  # a built-in output: another seed would make the same mesh
    history = httpx.get(f"{base}/api/outputs/{ball_desktop['id']}/reviews").json()
    decisions = [(r["decision"], r["reviewer"], r["variant"]) for r in history]
    assert decisions[-2:] == [("rejected", "lead", None), ("remake", "lead", "mobile")]
    first, second = (np.array(c) for c in seen["cameras"])
    assert np.allclose(first, second, atol=1e-6)  # dragging one view moved the other
    assert np.linalg.norm(first - np.array(seen["cameras_before"][0])) > 0.3  # ... away from where both started
