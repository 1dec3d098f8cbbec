"""`meshmill generate` and `meshmill eval` as a user runs them."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pygltflib import GLTF2

from inference.quality.evaluation import obj_texture, write_reference
from inference.quality.render import save_views
from tests.support import SAMPLES, bare_env, meshmill
from tests.support.clients import blender_import, validate_gltf


def run(*args: str):  # noqa: ANN201
    """`meshmill ARGS` with nothing from the developer's environment; the test checks the exit code."""
    return meshmill(bare_env(), *args, check=False)


def test_generate_one_image_prints_stats_and_writes_a_valid_glb(tmp_path):
    out = tmp_path / "mug.glb"
    result = run(
        "generate", str(SAMPLES / "mug.jpg"), "-o", str(out), "--preset", "mobile", "--texture-size", "512", "--texture-format", "png",
        "--no-normal-map", "--keep-lighting",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [image.mimeType for image in GLTF2.load(str(out)).images] == ["image/png"]  # mobile's normal map turned off
    assert "normal_map" not in result.stdout
    assert "faces" in result.stdout and "vertices" in result.stdout and "bytes" in result.stdout
    for stage in ("preprocess", "shape", "cleanup", "uv", "texture", "export", "total"):
        assert stage in result.stdout
    (report,) = validate_gltf(out)
    assert (report["errors"], report["warnings"]) == (0, 0)


def test_generate_writes_every_format_asked_for_at_the_height_asked_for(tmp_path):
    import trimesh
    from pxr import Usd, UsdGeom

    glb, usdz, obj = tmp_path / "mug.glb", tmp_path / "usd" / "mug.usdz", tmp_path / "obj" / "mug.obj"
    result = run(
        "generate", str(SAMPLES / "mug.jpg"), "-o", str(glb), "-o", str(usdz), "-o", str(obj), "--height", "1.2", "--pivot", "base",
        "--preset", "mobile", "--texture-size", "512",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert {p.name for p in obj.parent.iterdir()} == {"mug.obj", "mug.mtl", "mug_material.jpeg", "mug_normal.png"}
    lo, hi = trimesh.load(glb, force="mesh").bounds
    assert (hi[1] - lo[1], lo[1]) == pytest.approx((1.2, 0.0), abs=1e-3)
    stage = Usd.Stage.Open(str(usdz))
    found = UsdGeom.BBoxCache(Usd.TimeCode.Default(), [UsdGeom.Tokens.default_]).ComputeWorldBound(stage.GetDefaultPrim())
    box = found.ComputeAlignedRange()
    assert (box.GetMax()[1] - box.GetMin()[1], box.GetMin()[1]) == pytest.approx((1.2, 0.0), abs=1e-3)
    lo, hi = trimesh.load(obj, force="mesh").bounds
    assert hi[1] - lo[1] == pytest.approx(1.2, abs=1e-3)


def test_generate_refuses_a_suffix_it_has_no_writer_for_before_any_work(tmp_path):
    result = run("generate", str(SAMPLES / "mug.jpg"), "-o", str(tmp_path / "mug.glb"), "-o", str(tmp_path / "mug.blend"))
    assert result.returncode == 2
    assert ".blend is not a format Meshmill writes" in result.stderr and ".usdz" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_generate_four_views_with_obj_output(tmp_path):
    import pybullet_data

    data = Path(pybullet_data.getDataPath())
    obj = write_reference("ring", data / "torus/torus_textured.obj", data / "cube.png", "z", 0, tmp_path / "ref")
    paths = save_views(obj, tmp_path, size=256, half_extent=1.2, texture=obj_texture(obj))
    out = tmp_path / "ring.glb"
    result = run(
        "generate",
        str(paths["front"]),
        "--left",
        str(paths["left"]),
        "--back",
        str(paths["back"]),
        "--right",
        str(paths["right"]),
        "-o",
        str(out),
        "--faces",
        "3000",
        "--texture-size",
        "512",
        "--keep-background",
        "--normal-map",
        "--remesh",
        "quad",
        "--uv-mode",
        "box",
        "--lods",
        "1",
        "--obj",
        str(tmp_path / "obj"),
    )
    assert result.returncode == 0, result.stderr
    faces = int(re.search(r"([\d,]+) faces", result.stdout).group(1).replace(",", ""))
    quads = int(re.search(r"([\d,]+) quads", result.stdout).group(1).replace(",", ""))
    assert abs(faces - 3000) <= 150 and 0.48 * faces <= quads <= faces / 2 and "normal_map" in result.stdout
    assert re.search(r"LODs [\d,]+ faces", result.stdout)
    files = ["ring.mtl", "ring.obj", "ring_LOD1.obj", "ring_material.jpeg", "ring_normal.png"]
    assert sorted(p.name for p in (tmp_path / "obj").iterdir()) == files
    obj_faces = [line.split() for line in (tmp_path / "obj" / "ring.obj").read_text().splitlines() if line.startswith("f ")]
    assert sum(len(face) == 5 for face in obj_faces) >= 0.99 * quads  # the OBJ keeps the quads
    (report,) = validate_gltf(out)
    assert report["errors"] == 0 and report["warnings"] == 0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("not an image"), "not a recognised image file"),
        (lambda p: Image.new("RGBA", (64, 64)).save(p), "the image is fully transparent"),
        (lambda p: Image.new("RGB", (1, 1)).save(p), "image is 1×1"),
        (lambda p: Image.new("RGB", (100, 100), (240, 240, 240)).save(p), "no object found"),
    ],
)
def test_generate_refuses_bad_input_with_one_clear_line(tmp_path, make, message):
    bad = tmp_path / "bad.png"
    make(bad)
    out = tmp_path / "out.glb"
    result = run("generate", str(bad), "-o", str(out))
    assert result.returncode in (1, 2)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_a_background_remover_without_its_weights_is_one_line(tmp_path):
    env = bare_env(MESHMILL_MODELS_DIR=str(tmp_path / "models"))
    result = meshmill(env, "generate", str(SAMPLES / "duck.png"), "-o", str(tmp_path / "x.glb"), "--background", "u2net", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr and "╭" not in result.stderr
    assert result.stderr.startswith("error: rembg model 'u2net' not found: expected the file") and len(result.stderr.splitlines()) == 1


def test_generate_refuses_out_of_range_parameters_naming_the_option_as_typed(tmp_path):
    """The refusal names the option the user typed (``--faces``), not the field behind it (``target_faces``)."""
    result = run("generate", str(SAMPLES / "duck.png"), "-o", str(tmp_path / "x.glb"), "--steps", "500")
    assert result.returncode == 2 and "--steps 500 is out of range for backend 'builtin' (1–100)" in result.stderr
    result = run("generate", str(SAMPLES / "duck.png"), "-o", str(tmp_path / "x.glb"), "--faces", "10000000")
    assert result.returncode == 2 and "--faces 10000000: " in result.stderr and "(range 500–200000)" in result.stderr
    assert "target_faces" not in result.stderr
    result = run("generate", str(SAMPLES / "duck.png"), "-o", str(tmp_path / "x.glb"), "--texture-format", "gif")
    assert result.returncode == 2 and "--texture-format 'gif' is unknown: choose one of png, jpeg, webp" in result.stderr
    result = run("generate", str(SAMPLES / "duck.png"), "-o", str(tmp_path / "x.glb"), "--preset", "")  # not desktop in silence
    assert result.returncode == 2 and "--preset '' is unknown: choose one of mobile, desktop, hero" in result.stderr


def test_generate_refuses_a_pipe_and_an_output_it_cannot_write_before_any_work(tmp_path):
    """Each refused at once, in one line: a FIFO as the image (reading it would wait for ever), a folder as the
    output, an output under a file, and an OBJ folder that cannot be made. Nothing is left behind."""
    fifo = tmp_path / "views.fifo"
    os.mkfifo(fifo)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    cases = [
        ((str(fifo), "-o", str(tmp_path / "x.glb")), f"front view {fifo}: not a regular file"),
        ((str(SAMPLES / "duck.png"), "-o", str(tmp_path)), f"-o {tmp_path}: is a folder"),
        ((str(SAMPLES / "duck.png"), "-o", str(blocker / "x.glb")), f"cannot write into {blocker}"),
        ((str(SAMPLES / "duck.png"), "-o", str(tmp_path / "x.glb"), "--obj", str(blocker / "obj")), f"cannot write into {blocker}"),
    ]
    for args, message in cases:
        result = run("generate", *args)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "views.fifo"]


def test_a_model_the_studio_licence_setting_forbids_is_refused_before_it_loads(tmp_path):
    out = tmp_path / "x.glb"
    args = ("generate", str(SAMPLES / "duck.png"), "-o", str(out), "--backend", "hunyuan3d-2mini")
    result = meshmill(bare_env(MESHMILL_TERRITORY="EU"), *args, check=False)
    assert result.returncode == 1 and "hunyuan3d-2mini: its licence (Tencent Hunyuan 3D 2.0 Community License) excludes EU" in result.stderr
    assert "weights not found" not in result.stderr and "Traceback" not in result.stderr and not out.exists()
    result = meshmill(bare_env(MESHMILL_TERRITORY="US"), *args, check=False)  # allowed there: now it is the missing weights
    assert result.returncode == 1 and "weights not found" in result.stderr


def test_eval_scores_a_mesh_folder(tmp_path):
    import pybullet_data

    data = Path(pybullet_data.getDataPath())
    write_reference("ball", data / "soccerball.obj", None, "y", 0, tmp_path / "meshes")
    result = run("eval", str(tmp_path / "meshes"), "--size", "256", "--lit", "--json", str(tmp_path / "scores.json"))
    assert result.returncode == 0, result.stderr
    assert "re-rendered lit" in result.stdout
    scores = json.loads((tmp_path / "scores.json").read_text())
    ball = scores["objects"]["ball"]
    assert set(ball) == {"single", "four", "visual_hull", "slab", "ellipsoid"}
    assert ball["single"]["f@0.1"] > 0.95 and ball["four"]["f@0.1"] > 0.95  # a ball is what both should get right
    assert ball["single"]["f@0.1"] > ball["slab"]["f@0.1"]
    assert np.isfinite(ball["single"]["psnr_front"]) and np.isfinite(ball["single"]["psnr_lit_front"])


def test_eval_with_blender_scores_every_side_and_writes_a_contact_sheet(tmp_path):
    """Blender's Cycles renders the references and the result from all four sides; every side is scored lit and
    unlit, and the contact sheet shows the reference's four sides above the result's."""
    import pybullet_data

    data = Path(pybullet_data.getDataPath())
    write_reference("duck", data / "duck.obj", data / "duckCM.png", "y", 90, tmp_path / "meshes")
    result = run(
        "eval", str(tmp_path / "meshes"), "--renderer", "blender", "--single-only", "--size", "128",
        "--json", str(tmp_path / "scores.json"), "--sheets", str(tmp_path / "sheets"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    duck = json.loads((tmp_path / "scores.json").read_text())["objects"]["duck"]
    assert set(duck) == {"single"}
    for view in ("front", "left", "back", "right"):
        for metric in ("psnr", "psnr_lit"):
            assert 8 < duck["single"][f"{metric}_{view}"] < 60, (metric, view, duck["single"])
    assert duck["single"]["iou_front"] > 0.9 and 0.3 < duck["single"]["iou_left"] < 0.95  # a lathe from the side
    sheet = np.asarray(Image.open(tmp_path / "sheets" / "duck.png").convert("RGB"))
    assert sheet.shape == (2 * 128, 4 * 128, 3)
    # the duck is yellow from every side, in the reference and in the result
    for row in range(2):
        for col in range(4):
            tile = sheet[row * 128 : (row + 1) * 128, col * 128 : (col + 1) * 128].reshape(-1, 3).astype(int)
            duckish = tile[(tile[:, 0] > 150) & (tile[:, 1] > 120) & (tile[:, 2] < 90)]
            assert len(duckish) > 0.1 * len(tile), (row, col)


def test_eval_refuses_an_unknown_renderer(tmp_path):
    (tmp_path / "meshes").mkdir()
    result = run("eval", str(tmp_path / "meshes"), "--renderer", "povray")
    assert result.returncode != 0 and "povray" in result.stderr and "blender" in result.stderr


def test_blender_imports_the_fbx_upright_at_its_height_with_its_textures_connected_and_its_lod_group(tmp_path):
    fbx, glb = tmp_path / "chest.fbx", tmp_path / "chest.glb"
    result = run(
        "generate", str(SAMPLES / "mug.jpg"), "-o", str(fbx), "-o", str(glb), "--height", "1.2", "--preset", "mobile",
        "--texture-size", "512", "--lods", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = blender_import(fbx)
    assert report["objects"] == ["chest_LOD0", "chest_LOD1"]
    assert report["parents"] == {"chest_LOD0": "chest", "chest_LOD1": "chest"}  # the group Unity builds from the names
    assert report["base_color_from"] == "TEX_IMAGE" and report["normal_from"] == ["NORMAL_MAP", "TEX_IMAGE"]
    assert sorted(name for name, _ in report["images"]) == ["chest_basecolor", "chest_normal"]  # named for what they are
    (lo, hi) = report["bounds"]  # Blender's frame: Z up
    assert hi[2] - lo[2] == pytest.approx(1.2, abs=2e-3) and lo[2] == pytest.approx(0.0, abs=2e-3)

    # the GLB through Meshmill's Blender add-on (on a numpy without numpy.bool, as Debian 12's Blender 3.4 has it): the
    # same group, level 0 shown and level 1 hidden, the material and textures named for what they are
    written = run("blender-addon", str(tmp_path))
    assert written.returncode == 0 and (tmp_path / "meshmill_blender.py").is_file(), written.stderr
    seen = blender_import(glb, "--addon", str(tmp_path / "meshmill_blender.py"))
    assert seen["objects"] == ["chest_LOD0", "chest_LOD1"] and seen["parents"] == {"chest_LOD0": "chest", "chest_LOD1": "chest"}
    assert seen["hidden"] == ["chest_LOD1"] and seen["materials"] == ["chest_material"]
    assert sorted(name for name, _ in seen["images"]) == ["chest_basecolor", "chest_normal"]
    assert seen["base_color_from"] == "TEX_IMAGE" and seen["normal_from"] == ["NORMAL_MAP", "TEX_IMAGE"]
    (lo, hi) = seen["bounds"]
    assert hi[2] - lo[2] == pytest.approx(1.2, abs=2e-3) and lo[2] == pytest.approx(0.0, abs=2e-3)
    # Blender's own importer, without the add-on: the GLB names its images for what they are too
    assert sorted(name for name, _ in blender_import(glb)["images"]) == ["chest_basecolor", "chest_normal"]
