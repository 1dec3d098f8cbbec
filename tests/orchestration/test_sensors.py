"""The inbox, variants and orphaned-runs sensors, evaluated against a real folder and a real Dagster instance."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.utils import make_new_run_id

import catalog
from assets import ASSETS
from assets.resources import CatalogResource
from assets.variants import another_seed_variant
from catalog.keys import image_partition_key
from orchestration.convert import materialise
from orchestration.definitions import RESOURCES
from orchestration.ingest import ingest_paths
from orchestration.instance import COORDINATOR_TAG
from orchestration.sensors import REVIEW_TAG, REVIEWER_TAG, inbox_sensor, orphaned_runs_sensor, remakes_sensor, variants_sensor
from tests.support import SAMPLES, variant_params
from tests.support.images import write_view_set


def evaluate(sensor, instance, cursor=None):  # noqa: ANN001, ANN201
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"catalog": CatalogResource()})
    return sensor(context)


def test_inbox_sensor_ingests_new_files_once_with_folder_and_sidecar_labels(home, tmp_path, monkeypatch):
    monkeypatch.setenv("MESHMILL_INBOX", str(tmp_path / "inbox"))
    (tmp_path / "inbox" / "toybox-v3").mkdir(parents=True)
    shutil.copy(SAMPLES / "duck.png", tmp_path / "inbox" / "toybox-v3" / "duck.png")
    (tmp_path / "inbox" / "toybox-v3" / "duck.json").write_text(json.dumps({"tags": ["hero"], "origin": "style-v3", "height_m": 0.3}))
    shutil.copy(SAMPLES / "mug.jpg", tmp_path / "inbox" / "mug.jpg")
    (tmp_path / "inbox" / "notes.png").write_text("not an image")
    write_view_set(tmp_path / "inbox" / "toybox-v3", "chair", "folder")  # a view set: one object, in the folder's collection
    write_view_set(tmp_path / "inbox", "lamp", "suffix", views=("left", "right"))  # no front: reported, the rest go on
    instance = dg.DagsterInstance.ephemeral()

    first = evaluate(inbox_sensor, instance)
    assert len(first.run_requests) == 3 and all(r.run_key.startswith("images:") for r in first.run_requests)
    (request,) = first.dynamic_partitions_requests
    assert sorted(request.partition_keys) == sorted(r.partition_key for r in first.run_requests)
    engine = catalog.get_engine()
    records = {r["filename"]: r for r in catalog.find(engine)}
    assert set(records) == {"duck.png", "mug.jpg", "chair"}
    assert records["duck.png"]["collections"] == ["toybox-v3"] and records["duck.png"]["tags"] == ["hero"]
    assert records["chair"]["collections"] == ["toybox-v3"] and len(records["chair"]["views"]) == 4
    assert records["duck.png"]["origin"] == "style-v3" and records["mug.jpg"]["collections"] == []
    assert records["duck.png"]["height_m"] == 0.3 and records["mug.jpg"]["height_m"] is None

    again = evaluate(inbox_sensor, instance, first.cursor)  # a restart with the stored cursor: nothing new
    assert again.run_requests == [] and again.dynamic_partitions_requests == []

    newer = tmp_path / "inbox" / "toybox-v3" / "ball.png"
    shutil.copy(SAMPLES / "soccer_ball.png", newer)
    os.utime(newer, ns=(os.stat(newer).st_mtime_ns + 10**9,) * 2)
    third = evaluate(inbox_sensor, instance, again.cursor)
    assert len(third.run_requests) == 1 and len(catalog.find(engine)) == 4


def test_variants_sensor_requests_every_variant_after_the_image_stages(home):
    engine, blobs = catalog.get_engine(), catalog.blob_store_from_env()
    (result,) = ingest_paths([SAMPLES / "soccer_ball.png"], engine, blobs)
    key = image_partition_key(result.content_hash, "soccer_ball.png")
    assert key == f"soccer-ball-{result.content_hash[:16]}"  # readable in the UI, unique by the hash
    catalog.define_variant(engine, "mobile", variant_params("mobile", target_faces=1000, texture_size=512))
    catalog.define_variant(engine, "hero", variant_params("hero", target_faces=2000, texture_size=512))
    instance = dg.DagsterInstance.ephemeral()
    assert evaluate(variants_sensor, instance).run_requests == []
    materialise(instance, CatalogResource(), [key], [])  # the image stages only
    tick = evaluate(variants_sensor, instance)
    assert sorted(str(r.partition_key) for r in tick.run_requests) == sorted([f"{key}|hero", f"{key}|mobile"])
    assert evaluate(variants_sensor, instance, tick.cursor).run_requests == []


def test_orphaned_runs_sensor_fails_a_run_whose_process_died_and_frees_its_slot(home):
    """Run monitoring for the runs convert executes itself: a run left STARTED by a killed process, holding the
    only gpu slot and an attempt, is failed by the daemon's next tick; its slot is freed and its attempt closed."""
    engine = catalog.get_engine()
    (result,) = ingest_paths([SAMPLES / "duck.png"], engine, catalog.blob_store_from_env())
    variant_id = catalog.define_variant(engine, "mobile", variant_params("mobile"))
    gone = subprocess.Popen(["true"])
    gone.wait()
    instance = dg.DagsterInstance.ephemeral()
    run = DagsterRun(job_name="model_stages", run_id=make_new_run_id(), status=dg.DagsterRunStatus.STARTED,
                     tags={COORDINATOR_TAG: f"{socket.gethostname()}:{gone.pid}"})  # fmt: skip
    instance.add_run(run)
    instance.event_log_storage.set_concurrency_slots("gpu", 1)
    assert instance.event_log_storage.claim_concurrency_slot("gpu", run.run_id, "shape_and_texture").is_claimed
    output_id, _ = catalog.start_attempt(engine, result.source_id, variant_id, parameters={}, dagster_run_id=run.run_id)

    skipped = evaluate(orphaned_runs_sensor, instance)
    assert "closed 1 run(s)" in skipped.skip_message
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.event_log_storage.get_concurrency_info("gpu").claimed_slots == []
    (attempt,) = catalog.attempts_of(engine, output_id)
    assert attempt["status"] == "failed" and "its process stopped" in attempt["error"]
    assert "no run left open" in evaluate(orphaned_runs_sensor, instance).skip_message


def test_a_remake_asked_for_in_review_is_queued_by_the_remakes_sensor_and_made(home):
    """ "Another seed" from the web app: a variant with the next seed, one run request tagged with the review and the
    reviewer, and the run it requests makes the new output beside the old one."""
    engine, blobs = catalog.get_engine(), catalog.blob_store_from_env()
    (result,) = ingest_paths([SAMPLES / "soccer_ball.png"], engine, blobs)
    key = image_partition_key(result.content_hash, "soccer_ball.png")
    catalog.define_variant(engine, "mobile", variant_params("mobile", target_faces=800, texture_size=512))
    instance = dg.DagsterInstance.ephemeral()
    assert materialise(instance, CatalogResource(), [key], ["mobile"]).failures == []
    (output,) = catalog.show(engine, result.source_id)["outputs"]
    assert evaluate(remakes_sensor, instance).run_requests == []

    review = catalog.review_output(engine, output["id"], "remake", "ana")  # another seed, from the web app
    tick = evaluate(remakes_sensor, instance)
    assert catalog.reviews_of(engine, output["id"])[-1]["variant"] == "mobile-seed1"  # defined, and noted on the remake
    assert another_seed_variant(engine, "mobile") == "mobile-seed1"  # asked again: the same variant, not a third
    assert another_seed_variant(engine, "mobile-seed1") == "mobile-seed2"
    (request,) = tick.run_requests
    assert str(request.partition_key) == f"{key}|mobile-seed1" and request.tags[REVIEWER_TAG] == "ana"
    assert request.tags[REVIEW_TAG] == str(review["id"]) and request.run_key == f"remake:{review['id']}"
    assert tick.dynamic_partitions_requests[0].partition_keys == ["mobile-seed1"]
    assert evaluate(remakes_sensor, instance, tick.cursor).run_requests == []  # asked once, queued once

    instance.add_dynamic_partitions("variants", ["mobile-seed1"])
    assert dg.materialize(ASSETS, selection=["mesh", "textured_glb"], partition_key=request.partition_key, instance=instance,
                          resources=RESOURCES, tags=request.tags).success  # fmt: skip
    made = {o["variant"]: o for o in catalog.show(engine, result.source_id)["outputs"]}
    assert made["mobile-seed1"]["status"] == "succeeded" and made["mobile-seed1"]["parameters"]["seed"] == 1
    assert made["mobile"]["parameters"]["seed"] == 0 and made["mobile"]["id"] == output["id"]
