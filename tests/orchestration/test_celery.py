"""`meshmill convert --executor celery` through real Celery workers (`meshmill worker`) on Debian's Redis:
the steps spread over both workers, the GLBs are those an in-process run makes, a worker killed mid-batch
loses nothing, and the production profile (PostgreSQL for the catalog and Dagster, S3 for blobs) runs."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef
from PIL import Image, ImageOps
from sqlalchemy import create_engine, text

from tests.support import MESHMILL, SAMPLES, blob_store, find_json, meshmill, scrubbed_env
from tests.support.clients import validate_gltf
from tests.support.servers import celery_worker, create_database, dagster_postgres_home, pool_process, throwaway_redis

VARIANT = ("variant", "add", "mobile", "--preset", "mobile", "--faces", "800", "--texture-size", "512")


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    with throwaway_redis() as url:
        yield url


@contextlib.contextmanager
def two_workers(env: dict[str, str], logs: Path) -> Iterator[tuple]:
    with celery_worker(env, "w1", logs / "w1.log") as first, celery_worker(env, "w2", logs / "w2.log") as second:
        yield first, second


def instance_of(env: dict[str, str]) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"]))


def celery_workers_of(instance: dg.DagsterInstance) -> dict[str, set[str]]:
    """For each step name, the Celery workers that ran it (from the runs' engine events)."""
    ran: dict[str, set[str]] = {}
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            metadata = entry.dagster_event.engine_event_data.metadata
            if "Celery worker" in metadata:
                ran.setdefault(entry.step_key, set()).add(metadata["Celery worker"].value)
    return ran


def glbs_by_file(env: dict[str, str]) -> dict[str, bytes]:
    blobs = blob_store(env)
    return {r["filename"]: blobs.get(o["blob_keys"]["glb"]) for r in find_json(env) for o in r["outputs"] if o["status"] == "succeeded"}


def test_steps_spread_over_two_workers_and_make_the_same_glbs_as_in_process(broker, tmp_path):
    env = scrubbed_env(tmp_path / "home", DAGSTER_HOME=str(tmp_path / "dagster"), MESHMILL_CELERY_BROKER=broker)
    meshmill(env, *VARIANT)
    with two_workers(env, tmp_path):
        result = meshmill(env, "convert", str(SAMPLES), "--executor", "celery", "--workers", "2", "--batch-size", "1")
    assert "4 of 4 GLBs made" in result.stdout and "8 Dagster runs on 2 workers (celery)" in result.stdout
    ran = celery_workers_of(instance_of(env))
    names = {name.split("@")[0] for workers in ran.values() for name in workers}
    assert set(ran) == {"cut_out_and_upscale", "shape_and_texture"} and names == {"w1", "w2"}  # both worked

    local = scrubbed_env(tmp_path / "local", DAGSTER_HOME=str(tmp_path / "local-dagster"))
    meshmill(local, *VARIANT)
    meshmill(local, "convert", str(SAMPLES))
    through_celery, in_process = glbs_by_file(env), glbs_by_file(local)
    assert set(through_celery) == {"duck.png", "mug.jpg", "ring_toy.png", "soccer_ball.png"}
    assert through_celery == in_process  # byte for byte


def test_a_worker_killed_mid_batch_loses_nothing(broker, tmp_path):
    env = scrubbed_env(tmp_path / "home", DAGSTER_HOME=str(tmp_path / "dagster"), MESHMILL_CELERY_BROKER=broker)
    meshmill(env, *VARIANT)
    images = tmp_path / "images"
    shutil.copytree(SAMPLES, images, ignore=shutil.ignore_patterns("*.py"))
    for path in sorted(images.iterdir()):  # eight distinct images: each sample, and each mirrored
        ImageOps.mirror(Image.open(path)).save(images / f"{path.stem}_mirrored.png")
    with two_workers(env, tmp_path) as workers:
        convert = subprocess.Popen(
            [MESHMILL, "convert", str(images), "--executor", "celery", "--workers", "2", "--batch-size", "2"],
            env={**env, "COLUMNS": "200"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        victim = wait_for_a_3d_step(env, workers)
        pool_pid = pool_process(victim)
        subprocess.run(["kill", "-9", str(pool_pid)], check=True)  # as the OOM killer would
        stdout, stderr = convert.communicate(timeout=600)
    assert convert.returncode == 0, stdout + stderr
    assert "8 of 8 GLBs made" in stdout
    assert len(find_json(env)) == 8
    engine = create_engine(f"sqlite:///{env['MESHMILL_HOME']}/catalog.db")
    with engine.connect() as conn:
        outputs = conn.execute(text("SELECT id, status FROM output")).all()
        attempts = conn.execute(text("SELECT output_id, status, error FROM output_attempt")).all()
    engine.dispose()
    assert len(outputs) == 8 and {status for _, status in outputs} == {"succeeded"}  # one output each, all made
    succeeded = [a for a in attempts if a.status == "succeeded"]
    assert sorted(a.output_id for a in succeeded) == sorted(o.id for o in outputs)  # each made exactly once
    assert all("its process stopped" in a.error for a in attempts if a.status == "failed")  # the killed attempt, closed
    paths = []
    for name, glb in glbs_by_file(env).items():
        paths.append(tmp_path / f"{name}.glb")
        paths[-1].write_bytes(glb)
    assert all(r["errors"] == 0 for r in validate_gltf(*paths))


def wait_for_a_3d_step(env: dict[str, str], workers: tuple, timeout: float = 300):  # noqa: ANN201
    """The worker that has started a shape_and_texture step (as its engine event says)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(env["DAGSTER_HOME"], "history").exists():
            for step, names in celery_workers_of(instance_of(env)).items():
                if step == "shape_and_texture":
                    name = sorted(names)[0].split("@")[0]
                    return workers[0] if name == "w1" else workers[1]
        time.sleep(0.5)
    raise AssertionError("no 3D step started on a Celery worker")


def test_the_production_profile_postgres_s3_and_celery(broker, tmp_path, postgres_server, s3_settings, monkeypatch):
    dagster_home = tmp_path / "dagster"
    pg = dagster_postgres_home(postgres_server, dagster_home)
    catalog_db = create_database(postgres_server, f"catalog_{uuid.uuid4().hex[:8]}")
    env = scrubbed_env(tmp_path / "home", DAGSTER_HOME=str(dagster_home), MESHMILL_CELERY_BROKER=broker, MESHMILL_DATABASE_URL=catalog_db,
                       **s3_settings, **pg)  # fmt: skip
    meshmill(env, *VARIANT)
    with two_workers(env, tmp_path):
        result = meshmill(env, "convert", str(SAMPLES / "duck.png"), str(SAMPLES / "mug.jpg"), "--executor", "celery", "--workers", "2",
                          "--batch-size", "1")  # fmt: skip
    assert "2 of 2 GLBs made" in result.stdout
    for name, value in pg.items():
        monkeypatch.setenv(name, value)
    instance = instance_of(env)
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert {run.status for run in instance.get_runs()} == {dg.DagsterRunStatus.SUCCESS} and len(instance.get_runs()) == 4
    for record in find_json(env):
        (output,) = record["outputs"]
        assert output["status"] == "succeeded" and blob_store(env).get(output["blob_keys"]["glb"])[:4] == b"glTF"  # in the S3 bucket
