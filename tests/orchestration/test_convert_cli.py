"""`meshmill variant` and `meshmill convert`, the main job, as a user runs them."""

from __future__ import annotations

import io
import json
import os
import re
import select
import shutil
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import trimesh
from dagster._core.instance.ref import InstanceRef
from PIL import Image, ImageDraw
from sqlalchemy import create_engine, text

import catalog
from assets.resources import CatalogResource
from inference.generators.builtin import VERSION as BUILTIN_VERSION
from inference.params import GenerationParams
from orchestration.instance import COORDINATOR_TAG
from tests.support import MESHMILL, SAMPLES, blob_store, find_json, meshmill, scrubbed_env, worker_processes
from tests.support.images import write_bad_images, write_view_set
from tests.support.tiny_diffusers import build_realesrgan, build_rembg_onnx


def test_convert_mixed_folder_makes_glbs_for_the_good_and_lists_the_bad(meshmill_env, tmp_path):
    """Single images and view sets side by side: one output per object × variant, each set through the
    multi-view path, and each bad file or set named while the rest are made."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("duck.png", "soccer_ball.png"):
        shutil.copy(SAMPLES / name, inbox / name)
    (inbox / "duck.json").write_text(json.dumps({"height_m": 0.5, "tags": ["hero"]}))  # its label sidecar
    write_view_set(inbox, "rubber-duck", "folder")
    write_view_set(inbox, "toy", "suffix", views=("front", "right"))
    write_view_set(inbox, "front-only", "folder", views=("front",))  # the rubber duck's front alone
    write_view_set(inbox, "twofronts", "suffix", views=("front",))
    shutil.copy(inbox / "twofronts_front.png", inbox / "twofronts-front.png")
    bad = write_bad_images(inbox / "bad")
    Image.new("RGB", (120, 120), (235, 235, 235)).save(inbox / "blank.png")  # an image with no object in it

    added = meshmill(meshmill_env, "variant", "add", "mobile", "--preset", "mobile", "--faces", "1200", "--texture-size", "512")
    assert "variant mobile: builtin, 1200 faces" in added.stdout
    variants = json.loads(meshmill(meshmill_env, "variant", "list", "--json").stdout)
    assert [(v["name"], v["target_faces"]) for v in variants] == [("mobile", 1200)]

    result = meshmill(meshmill_env, "convert", str(inbox), "--collection", "toybox", "--tag", "batch1", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "5 of 6 GLBs made; 6 files or sets refused at ingest" in result.stdout
    assert "Traceback" not in result.stderr  # one line per bad file or image, no Dagster stack traces
    progress = [line for line in result.stdout.splitlines() if re.fullmatch(r"(made|made before|failed) .+ \(\d+/12\)", line)]
    assert len(progress) == 12 and progress[-1].endswith("(12/12)"), result.stdout  # one line per partition, off a terminal
    assert "failed blank.png images" in result.stdout
    for name in bad:
        assert f"/{name}:" in result.stderr
    assert "twofronts: two front views: twofronts-front.png and twofronts_front.png" in result.stderr
    assert "blank.png images: front view: no object found" in result.stderr
    assert (tmp_path / "dagster" / "dagster.yaml").exists()  # the persistent instance the UI reads

    records = {r["filename"]: r for r in find_json(meshmill_env, "--collection", "toybox", "--variant", "mobile")}
    assert {n: r["outputs"][0]["status"] for n, r in records.items()} == {
        "duck.png": "succeeded",
        "soccer_ball.png": "succeeded",
        "rubber-duck": "succeeded",
        "toy": "succeeded",
        "front-only": "succeeded",
        "blank.png": "failed",
    }
    assert "no object found" in records["blank.png"]["outputs"][0]["error"]
    store = blob_store(meshmill_env)
    glb_key = records["duck.png"]["outputs"][0]["blob_keys"]["glb"]
    assert store.get(glb_key)[:4] == b"glTF"
    # the duck's sidecar: its tag, and its real height, which its output was made at (the others: the variant's)
    duck_glb = trimesh.load(io.BytesIO(store.get(glb_key)), file_type="glb", force="mesh")
    assert records["duck.png"]["tags"] == ["batch1", "hero"] and records["duck.png"]["height_m"] == 0.5
    assert records["duck.png"]["outputs"][0]["parameters"]["height"] == 0.5 and records["toy"]["height_m"] is None
    assert duck_glb.bounds[:, 1] == pytest.approx([0.0, 0.5], abs=1e-4)
    # each object lists its views (name, blob key, size); each output the views it was made from
    views = records["rubber-duck"]["views"]
    assert [v["view"] for v in views] == ["front", "left", "back", "right"] and {v["width"] for v in views} == {192}
    assert all(store.stat(v["blob_key"]).size > 0 and v["byte_size"] > 0 for v in views)
    assert records["rubber-duck"]["outputs"][0]["views"] == ["front", "left", "back", "right"]
    assert records["toy"]["outputs"][0]["views"] == ["front", "right"]
    assert [v["view"] for v in records["duck.png"]["views"]] == ["front"] and records["duck.png"]["outputs"][0]["views"] == ["front"]
    # the four-view path: the side views shaped the mesh, which the same front alone cannot
    shapes = {
        name: trimesh.load(io.BytesIO(store.get(records[name]["outputs"][0]["blob_keys"]["glb"])), file_type="glb", force="mesh")
        for name in ("rubber-duck", "front-only")
    }
    four, one = (shapes[n].extents / shapes[n].extents.max() for n in ("rubber-duck", "front-only"))
    assert abs(four[2] - one[2]) > 0.05, (four, one)  # depth relative to size: from the side views, not a lathe of the front

    # the duck's picture lost from the blob store: `convert --force` of its file stores it again (its ingest does) and
    # makes the output again, rather than failing for want of it and marking a good output failed
    source_key = records["duck.png"]["views"][0]["blob_key"]
    picture = store.get(source_key)
    store.delete(source_key)
    again = meshmill(meshmill_env, "convert", str(inbox / "duck.png"), "--force")
    assert "1 of 1 GLBs made" in again.stdout, again.stdout
    assert store.get(source_key) == picture
    (duck,) = [r for r in find_json(meshmill_env, "--collection", "toybox", "--variant", "mobile") if r["filename"] == "duck.png"]
    assert duck["outputs"][0]["status"] == "succeeded"


#: refusals before any work, and what an output records, do not depend on where it is stored: the embedded defaults only
EMBEDDED_ONLY = pytest.mark.parametrize("meshmill_env", ["sqlite+local"], indirect=True)


def test_a_variant_is_stored_whole_and_a_preset_changed_later_does_not_change_it(meshmill_env, monkeypatch):
    """`variant add --preset mobile --texture-format webp --uv-mode box` stores every parameter as resolved then; a
    release that changes the mobile preset (its budget, its normal map) changes no variant made before it."""
    import inference.params

    meshmill(meshmill_env, "variant", "add", "web", "--preset", "mobile", "--texture-format", "webp", "--uv-mode", "box")
    (variant,) = json.loads(meshmill(meshmill_env, "variant", "list", "--json").stdout)
    assert variant["params"]["texture_format"] == "webp" and variant["params"]["normal_map"] is True
    assert set(variant["params"]) == set(GenerationParams.model_fields)
    for name, value in meshmill_env.items():
        monkeypatch.setenv(name, value)
    _, before = CatalogResource().variant("web")
    assert (before.texture_format, before.uv_mode, before.target_faces, before.normal_map) == ("webp", "box", 5_000, True)
    monkeypatch.setitem(inference.params.PRESETS, "mobile", {"target_faces": 3_000, "texture_size": 512, "normal_map": False})
    _, after = CatalogResource().variant("web")
    assert after == before


def test_a_variant_made_before_its_parameters_were_stored_is_resolved_once_and_kept(home, monkeypatch):
    """A variant row from before migration 0009 (columns, knobs in ``extra``, no ``params``) is resolved with the
    presets of the release that first reads it, and stored so: a later preset change does not reach it."""
    import inference.params
    from catalog.models import Variant

    engine = catalog.get_engine()
    with engine.begin() as conn:
        conn.execute(
            Variant.__table__.insert().values(
                name="old", backend="builtin", preset="mobile", seed=3, extra={"lods": 2}, created_at=datetime.now(UTC)
            )
        )
    _, first = CatalogResource().variant("old")
    assert (first.target_faces, first.normal_map, first.lods, first.seed) == (5_000, True, 2, 3)
    assert catalog.variant_by_name(engine, "old")["params"] == first.model_dump(mode="json")
    monkeypatch.setitem(inference.params.PRESETS, "mobile", {"target_faces": 3_000, "texture_size": 512})
    _, later = CatalogResource().variant("old")
    assert later == first


@EMBEDDED_ONLY
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
        assert (output["model_name"], output["model_version"]) == ("builtin", BUILTIN_VERSION)
        licences = {role: (r["model"], r["licence"]) for role, r in output["licences"].items()}
        assert licences == {"shape": ("builtin", "Apache-2.0 (Meshmill's own, no weights)"), "upscaler": ("realesrgan-x2", "BSD-3-Clause"),
                            "background": ("u2net", "Apache-2.0")}  # fmt: skip
    framed = json.loads(blob_store(env).get(f"framed/{record['content_hash']}/views.json"))
    assert framed["settings"] == {"remove_background": True, "background": "u2net", "upscale": 2, "upscaler": "realesrgan-x2"}

    # a new variant of the same image settings takes the stored views: no cut-out or upscale again (before: both re-ran)
    meshmill(env, "variant", "add", "third", "--faces", "700", "--texture-size", "512")
    settings = ("--upscale", "2", "--upscaler", "realesrgan-x2", "--background", "u2net")
    again = meshmill(env, "convert", str(tmp_path / "disc.png"), "--variant", "third", *settings)
    assert "1 of 1 GLBs made" in again.stdout and "1 Dagster run on" in again.stdout, again.stdout  # the 3D stages' run alone
    assert re.search(r"│ images\s+│ made before", again.stdout), again.stdout
    other = meshmill(env, "convert", str(tmp_path / "disc.png"), "--variant", "third", "--upscale", "1", "--background", "u2net")
    assert "2 Dagster runs on" in other.stdout, other.stdout  # other image settings: cut out and upscaled again


@EMBEDDED_ONLY
def test_a_damaged_blob_is_found_by_size_or_by_content_and_made_again_after_a_repair(meshmill_env):
    """Every file written is recorded with its size and sha256: `catalog check` compares sizes, `--deep` contents;
    `--repair` marks a damaged output failed (the next convert makes it) and removes a damaged picture (the next ingest
    stores it anew). Before: a GLB with its bytes changed, or a picture cut short, was "clean"."""
    env, store = meshmill_env, blob_store(meshmill_env)
    meshmill(env, "variant", "add", "mobile", "--preset", "mobile", "--faces", "800", "--texture-size", "512")
    assert "1 of 1 GLBs made" in meshmill(env, "convert", str(SAMPLES / "duck.png"), "--variant", "mobile").stdout
    ((record,),) = [r["outputs"] for r in find_json(env)]
    glb = record["blob_keys"]["glb"]
    data = bytearray(store.get(glb))
    data[len(data) // 2] ^= 0xFF  # one byte flipped: the size is as written
    store.put(glb, bytes(data))
    assert meshmill(env, "catalog", "check", "--grace", "0").stdout.startswith("clean")
    deep = meshmill(env, "catalog", "check", "--deep", "--grace", "0", "--json", check=False)
    assert deep.returncode == 1
    (finding,) = json.loads(deep.stdout)["findings"]
    assert (finding["kind"], finding["subject"], finding["output_id"]) == ("damaged_blob", glb, record["id"])
    assert "its bytes are not those written" in finding["detail"]

    repaired = meshmill(env, "catalog", "check", "--deep", "--repair", "--grace", "0")
    assert "mended" in repaired.stdout and "run the same `meshmill convert` again" in repaired.stdout
    assert [o["status"] for r in find_json(env) for o in r["outputs"]] == ["failed"]
    assert "1 of 1 GLBs made" in meshmill(env, "convert", str(SAMPLES / "duck.png"), "--variant", "mobile").stdout
    assert meshmill(env, "catalog", "check", "--deep", "--grace", "0").stdout.startswith("clean")

    (source,) = [r["blob_key"] for r in find_json(env)]
    store.put(source, store.get(source)[:100])  # the picture cut short
    short = json.loads(meshmill(env, "catalog", "check", "--grace", "0", "--json", check=False).stdout)["findings"]
    assert [(f["kind"], f["subject"]) for f in short] == [("damaged_blob", source)] and "100 bytes in the store" in short[0]["detail"]
    meshmill(env, "catalog", "check", "--repair", "--grace", "0")
    assert not store.exists(source)
    assert "its picture had gone from the blob store and is stored again" in meshmill(env, "ingest", str(SAMPLES / "duck.png")).stdout
    assert meshmill(env, "catalog", "check", "--deep", "--grace", "0").stdout.startswith("clean")


def test_convert_refuses_bad_image_settings_before_storing_anything(meshmill_env):
    result = meshmill(meshmill_env, "convert", str(SAMPLES / "duck.png"), "--upscaler", "waifu2x", check=False)
    assert result.returncode == 2 and "upscaler 'waifu2x' is unknown: choose one of builtin, realesrgan-x4" in result.stderr
    assert find_json(meshmill_env) == []


@EMBEDDED_ONLY
def test_convert_refuses_a_variant_whose_licence_the_studio_setting_forbids_before_any_work(meshmill_env):
    meshmill(meshmill_env, "variant", "add", "hy", "--backend", "hunyuan3d-2mini-turbo")
    env = {**meshmill_env, "MESHMILL_TERRITORY": "KR"}
    result = meshmill(env, "convert", str(SAMPLES / "duck.png"), "--variant", "hy", check=False)
    assert result.returncode == 2 and "variant 'hy': refused before any work: hunyuan3d-2mini-turbo" in result.stderr
    assert "excludes KR" in result.stderr and find_json(meshmill_env) == []  # nothing ingested


@EMBEDDED_ONLY
def test_an_objects_own_height_makes_its_outputs_that_tall_and_a_new_one_makes_them_again(meshmill_env, tmp_path):
    """A height said at ingest (``--object-height``) is the object's: its outputs are made that tall whatever the
    variant's height; said again, the next convert makes its outputs again (not "made before"), the others not.
    Convert's 3D options (``--preset mobile --faces 800``) define the variant of those settings, then reuse it."""
    props = tmp_path / "props"
    props.mkdir()
    for name in ("mug.jpg", "soccer_ball.png"):
        shutil.copy(SAMPLES / name, props / name)
    small = ("--preset", "mobile", "--faces", "800", "--texture-size", "512", "--height", "2")
    meshmill(meshmill_env, "ingest", str(props / "mug.jpg"), "--object-height", "1.5")

    def heights() -> dict[str, tuple[float, float]]:
        store, made = blob_store(meshmill_env), {}
        for record in find_json(meshmill_env):
            (output,) = record["outputs"]
            glb = trimesh.load(io.BytesIO(store.get(output["blob_keys"]["glb"])), file_type="glb", force="mesh")
            assert output["parameters"]["height"] == pytest.approx(glb.extents[1], abs=1e-4)
            made[record["filename"]] = (record["height_m"], round(float(glb.extents[1]), 4))
        return made

    first = meshmill(meshmill_env, "convert", str(props), *small)
    assert "variant mobile: defined now with these settings" in first.stdout and "2 of 2 GLBs made" in first.stdout
    assert heights() == {"mug.jpg": (1.5, 1.5), "soccer_ball.png": (None, 2.0)}
    meshmill(meshmill_env, "ingest", str(props / "mug.jpg"), "--object-height", "0.3")
    again = meshmill(meshmill_env, "convert", str(props), *small)
    assert "variant mobile: already defined with these settings" in again.stdout
    assert "1 of 2 GLBs made (1 made before with the same settings: skipped" in again.stdout, again.stdout
    assert heights() == {"mug.jpg": (0.3, 0.3), "soccer_ball.png": (None, 2.0)}
    other = meshmill(meshmill_env, "convert", str(props), "--preset", "mobile", "--faces", "900", "--variant", "nosuch", check=False)
    assert other.returncode == 2 and "no variant 'nosuch'" in other.stderr  # refused, but the variant of --faces 900 is defined
    variants = {v["name"]: v["params"] for v in json.loads(meshmill(meshmill_env, "variant", "list", "--json").stdout)}
    (named,) = set(variants) - {"mobile"}
    assert named.startswith("mobile-") and variants[named]["target_faces"] == 900 and variants["mobile"]["target_faces"] == 800
    refused = meshmill(meshmill_env, "ingest", str(props / "mug.jpg"), "--object-height", "0", check=False)
    assert refused.returncode == 2 and "--object-height" in refused.stderr


def coordinators(dagster_home: str) -> dict[str, str]:
    """Each run's job name by the process that coordinated it (its `meshmill/coordinator` tag)."""
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(dagster_home))
    return {run.tags[COORDINATOR_TAG]: run.job_name for run in instance.get_runs()}


def test_two_worker_processes_share_a_batch_and_keep_their_models(tmp_path):
    meshmill_env = scrubbed_env(tmp_path / "home", DAGSTER_HOME=str(tmp_path / "dagster"))
    meshmill(meshmill_env, "variant", "add", "mobile", "--preset", "mobile", "--faces", "800", "--texture-size", "512")
    result = meshmill(meshmill_env, "convert", str(SAMPLES), "--workers", "2", "--batch-size", "2")
    assert "4 of 4 GLBs made" in result.stdout and "4 Dagster runs on 2 workers" in result.stdout
    assert len(coordinators(meshmill_env["DAGSTER_HOME"])) == 2  # two worker processes, each ran its chunk's runs
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(meshmill_env["DAGSTER_HOME"]))
    meshes = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=dg.AssetKey("mesh")), limit=10).records
    assert [m.asset_materialization.metadata["models_loaded_in_worker"].value for m in meshes] == [1, 1, 1, 1]
    assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == 2  # the gpu pool follows the workers
    assert {o["status"] for r in find_json(meshmill_env) for o in r["outputs"]} == {"succeeded"}


def wait_for_run(dagster_home: str, job: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (Path(dagster_home) / "history").exists():
            instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(dagster_home))
            started = [r for r in instance.get_runs(dg.RunsFilter(job_name=job, statuses=[dg.DagsterRunStatus.STARTED]))]
            if started:
                return started[0].run_id
        time.sleep(0.3)
    raise AssertionError(f"no {job} run started within {timeout:.0f} s")


def attempt_statuses(env: dict[str, str]) -> list:
    engine = create_engine(f"sqlite:///{env['MESHMILL_HOME']}/catalog.db")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, error FROM output_attempt")).all()
    engine.dispose()
    return rows


def wait_for_running_attempt(env: dict[str, str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not any(row.status == "running" for row in attempt_statuses(env)):
        assert time.monotonic() < deadline, "no output was ever being made"
        time.sleep(0.1)


def line_matching(stream: io.BufferedReader, pattern: re.Pattern[str], timeout: float) -> str:
    """The first line read from ``stream`` (a pipe) that ``pattern`` matches, waiting at most ``timeout`` seconds."""
    deadline, pending = time.monotonic() + timeout, b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.5)
        if not ready:
            continue
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if pattern.search(line.decode(errors="replace")):
                return line.decode(errors="replace")
    raise AssertionError(f"no line matching {pattern.pattern!r} within {timeout} s")


def test_a_convert_killed_mid_run_neither_wedges_the_next_nor_leaves_work_running(tmp_path):
    """`kill -9` of the convert process alone (as the OOM killer does): its two worker processes end with it;
    `catalog check` names the dead run and the open attempt and `--repair` mends them; the same command again
    makes only what was not made, `--force` makes an output again, and the checker ends clean."""
    env = scrubbed_env(tmp_path / "home", DAGSTER_HOME=str(tmp_path / "dagster"))
    meshmill(env, "variant", "add", "mobile", "--preset", "mobile", "--faces", "800", "--texture-size", "512")
    command = [MESHMILL, "convert", str(SAMPLES), "--workers", "2", "--batch-size", "2"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    killed_run = wait_for_run(env["DAGSTER_HOME"], "model_stages")
    wait_for_running_attempt(env)  # inside a 3D step, holding a gpu pool slot, an output half made
    # off a terminal, convert says each partition as it is made, not all at the end (it said nothing until it ended)
    said = line_matching(first.stdout, re.compile(r"made \S.* images \(\d+/8\)"), 60)
    assert first.poll() is None and said, said
    workers = worker_processes(first.pid)
    os.kill(first.pid, signal.SIGKILL)  # the parent only: its workers must not go on as orphans
    first.wait()
    deadline = time.monotonic() + 30
    while _group_alive(first.pid) or any(_group_alive(worker) for worker in workers):  # each worker leads a group
        assert time.monotonic() < deadline, "the worker processes outlived the convert that started them"
        time.sleep(0.2)

    checked = json.loads(meshmill(env, "catalog", "check", "--repair", "--json").stdout)
    found = checked["findings"]
    assert {"dead_run", "open_attempt"} <= {f["kind"] for f in found} and killed_run in {f["subject"] for f in found}
    assert all(f["repaired"] for f in found)
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"]))
    assert instance.get_run_by_id(killed_run).status == dg.DagsterRunStatus.FAILURE
    assert instance.event_log_storage.get_concurrency_info("gpu").claimed_slots == []
    statuses = attempt_statuses(env)
    assert "running" not in {s.status for s in statuses}
    assert any("its process stopped" in (s.error or "") for s in statuses if s.status == "failed")
    made_before = sum(s.status == "succeeded" for s in statuses)
    assert checked["not_converted"] == 4 - made_before  # every object with no GLB, though each has its partition

    again = meshmill(env, *command[1:], timeout=300)  # before the fixes: blocked for ever, then made everything again
    assert f"{4 - made_before} of 4 GLBs made" in again.stdout
    assert made_before == 0 or f"({made_before} made before with the same settings: skipped" in again.stdout
    outputs = [o for r in find_json(env) for o in r["outputs"]]
    assert {o["status"] for o in outputs} == {"succeeded"}
    # a GLB cut short in the store and one deleted from it are not "made before": the same command makes them again
    store = blob_store(env)
    store.path(outputs[0]["blob_keys"]["glb"]).write_bytes(store.get(outputs[0]["blob_keys"]["glb"])[:1000])
    store.delete(outputs[1]["blob_keys"]["glb"])
    remade = meshmill(env, *command[1:], timeout=300)
    assert "2 of 4 GLBs made" in remade.stdout and "(2 made before with the same settings: skipped" in remade.stdout
    recorded = {o["blob_keys"]["glb"]: o["byte_size"] for r in find_json(env) for o in r["outputs"]}
    assert all(store.stat(o["blob_keys"]["glb"]).size == recorded[o["blob_keys"]["glb"]] for o in outputs[:2])
    forced = meshmill(env, "convert", str(SAMPLES / "duck.png"), "--force")
    assert "1 of 1 GLBs made" in forced.stdout
    clean = meshmill(env, "catalog", "check", "--grace", "0")
    assert clean.stdout.startswith("clean; 0 catalogued object(s) not yet converted")


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_worker_process_that_dies_has_its_chunk_done_by_another(tmp_path):
    """`kill -9` of one worker mid-batch: its chunk is made by a new worker, and nothing the dead worker started
    lives on. Dagster's `tail -F` that mirrors a step's output outlived a killed worker at times, holding this
    test's pipes open, so that reading convert's output to the end hung after convert had exited."""
    env = scrubbed_env(tmp_path / "home", DAGSTER_HOME=str(tmp_path / "dagster"))
    meshmill(env, "variant", "add", "mobile", "--preset", "mobile", "--faces", "800", "--texture-size", "512")
    convert = subprocess.Popen([MESHMILL, "convert", str(SAMPLES), "--workers", "2", "--batch-size", "1"], env={**env, "COLUMNS": "200"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for_run(env["DAGSTER_HOME"], "model_stages")
    workers = worker_processes(convert.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    stdout, stderr = convert.communicate(timeout=500)
    assert convert.returncode == 0, stdout + stderr
    assert "4 of 4 GLBs made" in stdout
    assert not _group_alive(workers[0]), "a process the killed worker started outlived the batch"
