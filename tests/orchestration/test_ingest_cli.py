"""`meshmill ingest` and `meshmill catalog …` run as a user runs them, on both storage set-ups."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from catalog import MAX_ID
from tests.support import MESHMILL, blob_store, catalog_url, find_json, heavy_modules_loaded, meshmill
from tests.support.images import prop_image, write_bad_images, write_input_corpus, write_odd_good_images


def stored_rows_and_blobs(env: dict[str, str]) -> tuple[set[str], set[str]]:
    engine = create_engine(catalog_url(env))
    with engine.connect() as conn:
        keys = set(conn.execute(text("SELECT blob_key FROM source_image")).scalars())
    engine.dispose()
    return keys, set(blob_store(env).list("sources/"))


def test_ingest_mixed_folder_reports_each_bad_file_and_keeps_the_good(meshmill_env, tmp_path):
    inbox = tmp_path / "inbox"
    bad = write_bad_images(inbox / "bad")
    good = write_odd_good_images(inbox / "odd")
    prop_image(1).save(inbox / "prop.png")
    (inbox / "readme.txt").write_text("not an image: folders only pick up image files")
    missing = tmp_path / "does-not-exist.png"

    result = meshmill(
        meshmill_env, "ingest", str(inbox), str(missing), "--collection", "toybox-v3", "--tag", "hero", "--origin", "style-v3", check=False
    )
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("failed")]
    assert len(errors) == len(bad) + 1
    for name, problem in bad.items():
        (line,) = [e for e in errors if f"/{name}:" in e]
        assert problem in line
    assert any(str(missing) in e and "no such file" in e for e in errors)
    assert f"{len(good) + 1} added, 0 duplicate, {len(bad) + 1} failed" in result.stdout

    records = find_json(meshmill_env, "--collection", "toybox-v3")
    assert sorted(r["filename"] for r in records) == sorted([*good, "prop.png"])
    for record in records:
        assert record["tags"] == ["hero"] and record["origin"] == "style-v3" and record["outputs"] == []
        assert (record["width"], record["height"], record["mode"]) == good.get(record["filename"], (48, 48, "RGBA"))
    rows, blobs = stored_rows_and_blobs(meshmill_env)
    assert rows == blobs and len(rows) == len(good) + 1  # no row without blob, no blob without row

    # The same files again: nothing new is stored, the new tag is attached.
    again = meshmill(meshmill_env, "ingest", str(inbox / "odd"), str(inbox / "prop.png"), "--tag", "approved")
    assert f"0 added, {len(good) + 1} duplicate, 0 failed" in again.stdout
    assert len(find_json(meshmill_env, "--tag", "approved", "--tag", "hero")) == len(good) + 1
    assert stored_rows_and_blobs(meshmill_env)[1] == blobs

    # A picture gone from the blob store (a disk replaced, a bucket emptied): the same file ingested again stores it
    # again, byte for byte, rather than answering "duplicate" over a hole
    store = blob_store(meshmill_env)
    (prop,) = [r for r in records if r["filename"] == "prop.png"]
    key = prop["views"][0]["blob_key"]
    stored = store.get(key)
    store.delete(key)
    restored = meshmill(meshmill_env, "ingest", str(inbox / "prop.png"))
    assert "0 added, 1 duplicate, 0 failed" in restored.stdout
    assert "its picture had gone from the blob store and is stored again" in restored.stdout
    assert store.get(key) == stored


def test_catalog_commands(meshmill_env, tmp_path):
    for n in range(3):
        prop_image(n).save(tmp_path / f"prop{n}.png")
    meshmill(meshmill_env, "ingest", str(tmp_path / "prop0.png"), str(tmp_path / "prop1.png"), "-c", "toybox-v3")
    meshmill(meshmill_env, "ingest", str(tmp_path / "prop2.png"), "-c", "dungeon", "-t", "wip")
    by_name = {r["filename"]: r["id"] for r in find_json(meshmill_env)}

    tagged = meshmill(meshmill_env, "catalog", "tag", str(by_name["prop1.png"]), "--add", "approved", "--add", "hero")
    assert "approved, hero" in tagged.stdout
    meshmill(meshmill_env, "catalog", "tag", str(by_name["prop2.png"]), "--add", "hero", "--remove", "wip")

    assert [r["filename"] for r in find_json(meshmill_env, "--tag", "hero")] == ["prop2.png", "prop1.png"]
    assert [r["filename"] for r in find_json(meshmill_env, "--tag", "hero", "--collection", "toybox-v3")] == ["prop1.png"]
    assert [r["filename"] for r in find_json(meshmill_env, "--any-tag", "approved", "--any-tag", "wip")] == ["prop1.png"]
    assert find_json(meshmill_env, "--status", "failed") == []
    page = find_json(meshmill_env, "--limit", "2")
    assert [r["filename"] for r in page] == ["prop2.png", "prop1.png"]
    assert [r["filename"] for r in find_json(meshmill_env, "--limit", "2", "--before", str(page[-1]["id"]))] == ["prop0.png"]

    shown = json.loads(meshmill(meshmill_env, "catalog", "show", str(by_name["prop1.png"]), "--json").stdout)
    assert shown["tags"] == ["approved", "hero"] and shown["collections"] == ["toybox-v3"]
    assert "prop1.png" in meshmill(meshmill_env, "catalog", "show", str(by_name["prop1.png"])).stdout
    collections = json.loads(meshmill(meshmill_env, "catalog", "collections", "--json").stdout)
    assert {c["name"]: c["images"] for c in collections} == {"dungeon": 1, "toybox-v3": 2}

    missing = meshmill(meshmill_env, "catalog", "show", "999", check=False)
    assert missing.returncode == 1 and "source image 999 does not exist" in missing.stderr
    bad_tag = meshmill(meshmill_env, "catalog", "tag", str(by_name["prop1.png"]), "--add", "no spaces", check=False)
    assert bad_tag.returncode == 2 and "tag 'no spaces' is not valid" in bad_tag.stderr
    bad_status = meshmill(meshmill_env, "catalog", "find", "--status", "exploded", check=False)
    assert bad_status.returncode == 2
    for args in (["show", str(2**31)], ["tag", str(2**64), "--add", "x"], ["find", "--before", str(2**63)]):  # past any id
        huge = meshmill(meshmill_env, "catalog", *args, check=False)
        assert huge.returncode == 2 and "Traceback" not in huge.stderr and str(MAX_ID) in huge.stderr, huge.stderr


def test_four_processes_ingesting_the_same_200_images_record_each_once(meshmill_env, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n in range(200):
        prop_image(n, size=32).save(inbox / f"prop{n:03d}.png")
    workers = [
        subprocess.Popen(
            [MESHMILL, "ingest", str(inbox), "--collection", "batch", "--tag", f"worker{w}"],
            env=meshmill_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (stdout, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stdout + stderr
        assert "0 failed" in stdout
    added = sum(int(re.search(r"^(\d+) added", stdout, re.M).group(1)) for stdout, _ in outputs)
    assert added == 200

    engine = create_engine(catalog_url(meshmill_env))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM source_image")).scalar() == 200
        assert conn.execute(text("SELECT count(*) FROM image_tag")).scalar() == 800  # 4 worker tags each
        assert conn.execute(text("SELECT count(*) FROM collection")).scalar() == 1
    engine.dispose()
    rows, blobs = stored_rows_and_blobs(meshmill_env)
    assert rows == blobs and len(rows) == 200


@pytest.mark.parametrize("meshmill_env", ["sqlite+local"], indirect=True)  # reading files does not depend on the store
def test_a_corpus_of_awkward_files_gets_one_line_each_and_the_good_ones_are_ingested(meshmill_env, tmp_path):
    good, bad = write_input_corpus(tmp_path / "corpus")
    assert len(good) + len(bad) >= 60
    result = meshmill(meshmill_env, "ingest", str(tmp_path / "corpus"), check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr, result.stderr
    refusals = [line for line in result.stderr.splitlines() if line.startswith("failed")]
    assert len(refusals) == len(bad) == len(result.stderr.splitlines()), result.stderr  # one line each, nothing else
    for name, reason in bad.items():
        (line,) = [r for r in refusals if r.split(maxsplit=1)[1].startswith(f"{tmp_path / 'corpus' / name}:")]
        assert reason.lower() in line.lower(), line
    # every good file once: the link to plain.png is the same picture (a duplicate), the folder link adds nothing
    assert f"{len(good) - 1} added, 1 duplicate, {len(bad)} failed" in result.stdout
    names = {r["filename"] for r in find_json(meshmill_env, "--limit", "1000")}
    same = {"plain.png", "link-to-plain.png"}  # one picture: recorded under whichever name came first
    assert names - same == {Path(n).name for n in good} - same and len(names & same) == 1

    (tmp_path / "empty").mkdir()
    empty = meshmill(meshmill_env, "ingest", str(tmp_path / "empty"), check=False)
    assert empty.returncode == 1 and "no pictures in this folder" in empty.stderr


@pytest.mark.parametrize("meshmill_env", ["sqlite+local"], indirect=True)
def test_a_name_with_a_newline_or_brackets_stays_on_its_line_as_written(meshmill_env, tmp_path):
    folder = tmp_path / "names"
    folder.mkdir()
    prop_image(3).save(folder / "line\nbreak [red].png")
    result = meshmill(meshmill_env, "ingest", str(folder))
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("added")]
    assert "/names/line\\nbreak [red].png (" in line, result.stdout  # one line, the newline shown, the brackets kept
    listed = meshmill(meshmill_env, "catalog", "find").stdout
    assert "line\\nbreak [red].png" in listed


def test_the_catalog_commands_start_without_torch_or_dagster():
    """`meshmill catalog …`, `ingest` and `variant …` answer in about a second: building the command line imports
    neither torch nor Dagster nor trimesh (seconds of imports that only `convert`, `generate` and the servers need)."""
    assert heavy_modules_loaded("import orchestration.cli") == []
