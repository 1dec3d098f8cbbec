"""What an overnight batch meets, with real processes and real servers: the database restarted, the S3 server
away, two converts on overlapping folders, a full disk, wrong credentials. After each, every output is made
once, nothing is half-written, and `meshmill catalog check` is clean. (`kill -9` of convert and of a worker:
test_convert_cli.py and test_celery.py.)"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef
from PIL import Image
from sqlalchemy import create_engine, text

from orchestration.convert import GPU_POOL, size_gpu_pool
from orchestration.instance import add_partitions, dagster_instance
from tests.support import MESHMILL, SAMPLES, catalog_url, find_json, meshmill, scrubbed_env
from tests.support.servers import create_database, restart_postgres, running_s3, throwaway_postgres


def write_batch(folder: Path, copies: int = 2) -> int:
    """``copies`` distinct pictures of each bundled PNG sample (one pixel differs); returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for sample in sorted(SAMPLES.glob("*.png")):
        for copy in range(copies):
            image = Image.open(sample).convert("RGBA")
            image.putpixel((0, 0), (copy, copy, copy, 255))
            image.save(folder / f"{copy}-{sample.name}")
            count += 1
    return count


def add_variant(env: dict[str, str]) -> None:
    meshmill(env, "variant", "add", "mobile", "--preset", "mobile", "--faces", "800", "--texture-size", "512", "--no-normal-map")


def start_convert(env: dict[str, str], *paths: Path, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen([MESHMILL, "convert", *map(str, paths)], env={**env, "COLUMNS": "200"}, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip


def wait_until_made(env: dict[str, str], count: int, process: subprocess.Popen, timeout: float = 300) -> None:
    """Until ``count`` outputs are made: the batch is under way, with more to come."""
    deadline = time.monotonic() + timeout
    while sum(o["status"] == "succeeded" for r in find_json(env) for o in r["outputs"]) < count:
        assert process.poll() is None, "the convert ended before the fault"
        assert time.monotonic() < deadline, "no output was made"
        time.sleep(0.5)


def assert_all_made_once(env: dict[str, str], images: int) -> None:
    records = find_json(env, "--limit", "1000")
    assert len(records) == images
    assert [[o["status"] for o in r["outputs"]] for r in records] == [["succeeded"]] * images
    check = meshmill(env, "catalog", "check", "--grace", "0", "--json", check=False)
    assert check.returncode == 0, check.stdout


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. ``3m``) mounted on ``folder`` while the body runs; the test is skipped where it cannot be."""
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_the_catalog_database_restarted_mid_batch_is_retried_through(tmp_path):
    with throwaway_postgres() as server:
        env = scrubbed_env(tmp_path / "home", DAGSTER_HOME=str(tmp_path / "dagster"))
        env["MESHMILL_DATABASE_URL"] = create_database(server, "catalog")
        images = write_batch(tmp_path / "batch", copies=1)
        add_variant(env)
        convert = start_convert(env, tmp_path / "batch", log=tmp_path / "convert.log")
        wait_until_made(env, 1, convert)
        restart_postgres(server, down_for=2.0)  # every pooled connection is cut; new ones are refused for 2 s
        assert convert.wait(timeout=300) == 0, (tmp_path / "convert.log").read_text()
        assert f"{images} of {images} GLBs made" in (tmp_path / "convert.log").read_text()
        assert_all_made_once(env, images)


def test_the_s3_server_away_for_twenty_seconds_mid_batch_is_waited_out(tmp_path):
    with running_s3() as s3:
        env = scrubbed_env(tmp_path / "home", DAGSTER_HOME=str(tmp_path / "dagster"), **s3.settings)
        images = write_batch(tmp_path / "batch", copies=1)
        add_variant(env)
        convert = start_convert(env, tmp_path / "batch", log=tmp_path / "convert.log")
        wait_until_made(env, 1, convert)
        s3.stop()
        time.sleep(20)  # three quick tries (2, 4, 8 s) failed the partitions in flight; the stores now wait up to 120 s
        s3.start()
        assert convert.wait(timeout=300) == 0, (tmp_path / "convert.log").read_text()
        assert f"{images} of {images} GLBs made" in (tmp_path / "convert.log").read_text()
        assert_all_made_once(env, images)

        s3.stop()  # away for good: one line naming what was unreachable, no traceback
        away = meshmill(env, "convert", str(tmp_path / "batch"), check=False, timeout=120)
        assert away.returncode == 1 and "Traceback" not in away.stderr
        assert f"s3://meshmill/ at {s3.settings['MESHMILL_S3_ENDPOINT']}: the server did not answer" in away.stderr
        s3.start()
        wrong = {**env, "MESHMILL_S3_SECRET_KEY": "not-the-secret"}
        refused = meshmill(wrong, "ingest", str(SAMPLES / "duck.png"), check=False)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr and "frozen" not in refused.stderr
        assert "refused (SignatureDoesNotMatch" in refused.stderr and "MESHMILL_S3_SECRET_KEY" in refused.stderr


def test_two_converts_of_overlapping_folders_at_once_make_each_output_once(tmp_path):
    env = scrubbed_env(tmp_path / "home", DAGSTER_HOME=str(tmp_path / "dagster"))
    write_batch(tmp_path / "all")
    pictures = sorted((tmp_path / "all").iterdir())
    for folder, chosen in (("a", pictures[:4]), ("b", pictures[2:])):  # two pictures in both
        (tmp_path / folder).mkdir()
        for picture in chosen:
            shutil.copy(picture, tmp_path / folder / picture.name)
    add_variant(env)
    first = start_convert(env, tmp_path / "a", log=tmp_path / "a.log")
    second = start_convert(env, tmp_path / "b", log=tmp_path / "b.log")
    assert first.wait(timeout=400) == 0, (tmp_path / "a.log").read_text()
    assert second.wait(timeout=400) == 0, (tmp_path / "b.log").read_text()
    assert_all_made_once(env, len(pictures))
    # made once, not only recorded once: one attempt per output (before: the two shared ones were made by both)
    engine = create_engine(catalog_url(env))
    with engine.connect() as conn:
        attempts = conn.execute(text("SELECT output_id, count(*) FROM output_attempt GROUP BY output_id")).all()
    engine.dispose()
    assert sorted(count for _, count in attempts) == [1] * len(pictures), attempts


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_dagsters_storage_filling_up_mid_batch_ends_with_a_summary_one_line_and_no_run_left_open(tmp_path):
    """Before: the raw SQL of the event that did not fit, no summary, and the run left STARTED until a repair."""
    with small_disk(tmp_path / "dagster", "16m") as disk:
        env = scrubbed_env(tmp_path / "home", DAGSTER_HOME=str(disk))
        (tmp_path / "one").mkdir()
        shutil.copy(SAMPLES / "duck.png", tmp_path / "one")
        meshmill(env, "convert", str(tmp_path / "one"))  # the instance exists, its storage migrated
        free = shutil.disk_usage(disk).free
        with open(disk / "filler", "wb") as filler:  # 400 kB left: the batch starts and the events of its GLBs do not fit
            filler.write(b"\0" * (free - 400_000))
        images = write_batch(tmp_path / "batch", copies=1)
        full = meshmill(env, "convert", str(tmp_path / "batch"), check=False)
        assert full.returncode == 1 and "Traceback" not in full.stderr and "INSERT INTO" not in full.stdout + full.stderr
        # SQLite says "database or disk is full", or "disk I/O error" when its journal could not grow
        assert re.search(rf"Dagster's storage \({disk}\) could not be written: (its disk is full|database or disk is full)", full.stderr)
        assert "GLBs made" in full.stdout and "not made: the batch stopped" in full.stdout, full.stdout
        (disk / "filler").unlink()
        check = meshmill(env, "catalog", "check", "--grace", "0", check=False)
        assert check.returncode == 0 and "dead_run" not in check.stdout, check.stdout  # the run was failed as it stopped
        again = meshmill(env, "convert", str(tmp_path / "batch"))
        assert f"of {images} GLBs made" in again.stdout
        assert_all_made_once(env, images + 1)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_the_catalog_is_checked_and_searched_read_only_on_a_full_disk(tmp_path):
    """Before: `catalog check` and `catalog find` ended with "disk I/O error": SQLite could not create the journal
    files a connection to a WAL file needs, and Dagster could not open its storage."""
    with small_disk(tmp_path / "disk", "4m") as disk:
        env = scrubbed_env(disk / "home", DAGSTER_HOME=str(disk / "dagster"))
        meshmill(env, "ingest", str(SAMPLES / "duck.png"), "--tag", "hero")
        with open(disk / "filler", "wb") as filler:  # every byte left taken
            with contextlib.suppress(OSError):
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
        check = meshmill(env, "catalog", "check", "--grace", "0", check=False)
        assert check.returncode == 0 and "Traceback" not in check.stderr, check.stdout + check.stderr
        assert check.stdout.startswith("clean (the catalog and the blob store only); 1 catalogued object(s) not yet converted")
        assert "the catalog's disk is full" in check.stderr and "Dagster's runs and partitions are not checked" in check.stderr
        assert f"writing {disk}/dagster/dagster.yaml" in check.stderr, check.stderr  # the file it could not write
        assert [r["filename"] for r in find_json(env, "--tag", "hero")] == ["duck.png"]
        refused = meshmill(env, "catalog", "tag", "1", "--add", "prop", check=False)  # a change: refused, in one line
        assert refused.returncode == 1 and "full" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_a_full_disk_ends_the_command_with_one_line_and_nothing_half_written(tmp_path):
    with small_disk(tmp_path / "disk", "3m") as disk:
        env = scrubbed_env(disk / "home", DAGSTER_HOME=str(tmp_path / "dagster"))
        (tmp_path / "noise").mkdir()
        rng = __import__("numpy").random.default_rng(0)
        for i in range(8):  # ~0.5 MB each as PNG: the disk is full before the last
            Image.fromarray(rng.integers(0, 256, (420, 420, 3), dtype="uint8")).save(tmp_path / "noise" / f"{i}.png")
        full = meshmill(env, "ingest", str(tmp_path / "noise"), check=False)
        assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
        assert "no space left on the device" in full.stderr or "could not be written" in full.stderr, full.stderr
        # every picture is named: added, or failed with the full disk, or not reached after it (before: none after it)
        lines = (full.stdout + full.stderr).splitlines()
        said = [re.search(r"noise/(\d\.png)", line) for line in lines if line.startswith(("added", "failed"))]
        assert sorted(m.group(1) for m in said if m) == [f"{i}.png" for i in range(8)], full.stdout + full.stderr
        assert "not reached: the ingest stopped (no space left" in full.stderr, full.stderr
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        check = meshmill(env, "catalog", "check", "--grace", "0", "--repair", check=False)
        assert "missing_blob" not in check.stdout, check.stdout  # no row was written without its blob
        again = meshmill(env, "ingest", str(tmp_path / "noise"))
        assert "8 failed" not in again.stdout and len(find_json(env, "--limit", "100")) == 8
        assert meshmill(env, "catalog", "check", "--grace", "0").stdout.startswith("clean")


def test_processes_adding_the_same_partitions_at_once_all_succeed(tmp_path):
    """Two converts of overlapping folders add the same image partitions at the same moment: Dagster's check-then-insert
    let both insert a key, and one convert failed on the unique constraint (seen in this suite's overlapping-converts
    test). Four instances on one storage add the same keys at once here; every call succeeds and each key is there once."""
    failures: list[Exception] = []

    def add_rounds() -> None:
        instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path)))
        for round_ in range(40):
            try:
                add_partitions(instance, "images", [f"image-{round_}-{i}" for i in range(20)])
            except Exception as exc:  # noqa: BLE001  # every failure is the finding
                failures.append(exc)

    dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))).get_dynamic_partitions("images")  # the storage made first
    threads = [threading.Thread(target=add_rounds) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    keys = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))).get_dynamic_partitions("images")
    assert sorted(keys) == sorted(f"image-{r}-{i}" for r in range(40) for i in range(20))


def _start_at_the_barrier(home: str, barrier, answers) -> None:
    """What a convert does first: open (on a new home, create) Dagster's storage, then size the gpu pool."""
    os.environ["DAGSTER_HOME"] = home
    barrier.wait()
    try:
        size_gpu_pool(dagster_instance(), 1)
        answers.put("ok")
    except Exception as exc:  # noqa: BLE001  # every failure is the finding
        answers.put(repr(exc)[:200])


def test_converts_starting_together_on_a_new_home_all_start(tmp_path):
    """Converts starting at the same moment raced twice: on a new home both created Dagster's SQLite storage ("table
    runs already exists", or two alembic heads left behind), and both found no ``gpu`` limit row and inserted one, the
    second failing on the unique constraint (seen in CI). Processes, not threads: the races need connections writing at
    once. Without the lock and the retry, most rounds of four processes failed here."""
    import multiprocessing

    fork = multiprocessing.get_context("fork")  # the imports are made: each process starts at once
    for round_ in range(4):
        home = str(tmp_path / f"dagster-{round_}")
        barrier, answers = fork.Barrier(4), fork.Queue()
        processes = [fork.Process(target=_start_at_the_barrier, args=(home, barrier, answers)) for _ in range(4)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=60)
        assert [answers.get(timeout=5) for _ in processes] == ["ok"] * 4
        info = dg.DagsterInstance.from_ref(InstanceRef.from_dir(home)).event_log_storage.get_concurrency_info(GPU_POOL)
        assert info.slot_count == 1


def test_a_database_error_is_named_after_the_storage_it_came_from(tmp_path, monkeypatch):
    """An error of Dagster's own storage is not reported as the catalog's (the overlapping converts' unique-constraint
    failure on Dagster's partitions table read "the catalog database (…catalog.db) failed")."""
    import sqlite3

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError

    from orchestration.cli.common import unreachable

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "dagster")))
    instance.get_dynamic_partitions("images")  # the storage made
    with sqlite3.connect(tmp_path / "dagster" / "history" / "runs" / "index.db") as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON dynamic_partitions BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    with pytest.raises(DBAPIError) as dagster_error:
        instance.add_dynamic_partitions("images", ["a"])
    assert unreachable(dagster_error.value) == f"Dagster's storage ({tmp_path / 'dagster'}) failed: refused by the test"
    with pytest.raises(DBAPIError) as catalog_error, create_engine(f"sqlite:///{tmp_path / 'catalog.db'}").connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert unreachable(catalog_error.value).startswith("the catalog database (")
