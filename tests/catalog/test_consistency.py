"""`catalog.consistency`: what a crash or a killed process leaves behind, found and mended, on SQLite + a
folder and on PostgreSQL + S3."""

import os
import subprocess
import time

import pytest

from catalog import LocalBlobStore, S3BlobStore, define_variant, finish_attempt, get_engine, output_detail, record_source, start_attempt
from catalog.blobs import temporary_name
from catalog.consistency import check_catalog, repair_catalog
from catalog.keys import glb_key, mesh_key, preview_key, source_key
from tests.support.servers import S3_ACCESS_KEY, S3_SECRET_KEY


@pytest.fixture(params=["sqlite+local", "postgresql+s3"])
def stores(request, tmp_path):
    if request.param == "sqlite+local":
        return get_engine(f"sqlite:///{tmp_path / 'catalog.db'}"), LocalBlobStore(tmp_path / "blobs")
    s3 = request.getfixturevalue("s3_settings")
    blobs = S3BlobStore(s3["MESHMILL_S3_ENDPOINT"], S3_ACCESS_KEY, S3_SECRET_KEY, s3["MESHMILL_S3_BUCKET"], secure=False)
    return get_engine(request.getfixturevalue("postgres_url")), blobs


def made_object(engine, blobs, n: int, variant_id: int) -> tuple[str, int]:
    """A catalogued picture and its made output, every blob in place; returns its hash and the output id."""
    h = f"{n:064x}"
    blobs.put(source_key(h), b"png")
    source = record_source(engine, content_hash=h, filename=f"{n}.png", width=4, height=4, mode="RGB", byte_size=3, blob_key=source_key(h))
    blobs.put(mesh_key(h, "mobile"), b"ply")
    blobs.put(glb_key(h, "mobile"), b"glTF")
    blobs.put(preview_key(h, "mobile"), b"png")
    output_id, attempt = start_attempt(engine, source.id, variant_id, parameters={}, dagster_run_id="run-done")
    finish_attempt(engine, output_id, attempt, status="succeeded", glb_key=glb_key(h, "mobile"), preview_key=preview_key(h, "mobile"))
    return h, output_id


def kinds(findings):
    return sorted((f.kind, f.subject) for f in findings)


def test_check_finds_what_a_crash_leaves_and_repair_mends_it(stores):
    engine, blobs = stores
    variant_id = define_variant(engine, "mobile", {"backend": "builtin"})
    made_object(engine, blobs, 1, variant_id)
    later = time.time() + 7200  # every blob is past the grace period
    assert check_catalog(engine, blobs, now=later) == []

    gone, broken_output = made_object(engine, blobs, 2, variant_id)
    blobs.delete(glb_key(gone, "mobile"))  # a made output's GLB lost
    orphan = glb_key("e" * 64, "mobile")  # a GLB whose object is not catalogued (its row never written)
    blobs.put(orphan, b"glTF")
    blobs.put(mesh_key(f"{1:064x}", "desktop"), b"ply")  # a shape of a variant the object has no output of
    blobs.put("notes/readme.txt", b"someone else's")  # outside the layout: reported, never removed
    h3 = f"{3:064x}"
    blobs.put(source_key(h3), b"png")
    running = record_source(engine, content_hash=h3, filename="3.png", width=4, height=4, mode="RGB", byte_size=3, blob_key=source_key(h3))
    killed_output, _ = start_attempt(engine, running.id, variant_id, parameters={}, dagster_run_id="run-killed")
    alive_source = record_source(engine, content_hash=f"{4:064x}", filename="4.png", width=4, height=4, mode="RGB", byte_size=3,
                                 blob_key=source_key(f"{4:064x}"))  # fmt: skip
    blobs.put(source_key(f"{4:064x}"), b"png")
    start_attempt(engine, alive_source.id, variant_id, parameters={}, dagster_run_id="run-alive")

    def run_alive(run_id: str) -> bool:
        return run_id == "run-alive"

    assert kinds(check_catalog(engine, blobs, run_alive=run_alive)) == [
        ("missing_blob", glb_key(gone, "mobile")),
        ("open_attempt", f"output {killed_output} attempt 1"),
        ("unknown_blob", "notes/readme.txt"),
    ]  # the orphans are younger than the grace period: they may be writes in flight
    findings = check_catalog(engine, blobs, run_alive=run_alive, now=later)
    assert kinds(findings) == sorted(
        [
            ("missing_blob", glb_key(gone, "mobile")),
            ("open_attempt", f"output {killed_output} attempt 1"),
            ("orphan_blob", mesh_key(f"{1:064x}", "desktop")),
            ("orphan_blob", orphan),
            ("unknown_blob", "notes/readme.txt"),
        ]
    )

    repaired = repair_catalog(engine, blobs, findings)
    assert {f.kind for f in repaired if not f.repaired} == {"unknown_blob"}
    assert not blobs.exists(orphan) and blobs.exists("notes/readme.txt") and blobs.exists(glb_key(f"{1:064x}", "mobile"))
    killed, broken = output_detail(engine, killed_output)["output"], output_detail(engine, broken_output)["output"]
    assert killed["status"] == "failed" and "closed by catalog check" in killed["error"]
    assert broken["status"] == "failed" and "missing from the blob store" in broken["error"]
    assert [f.kind for f in check_catalog(engine, blobs, run_alive=run_alive, now=later)] == ["unknown_blob"]


def test_an_unfinished_local_write_is_found_and_removed(tmp_path):
    engine, blobs = get_engine(f"sqlite:///{tmp_path / 'catalog.db'}"), LocalBlobStore(tmp_path / "blobs")
    (tmp_path / "blobs" / "outputs").mkdir(parents=True)
    (tmp_path / "blobs" / "outputs" / ".tmp-0123abcd").write_bytes(b"half a GLB")  # a writer killed mid-write
    assert list(blobs.list()) == []  # never listed as a blob
    (finding,) = check_catalog(engine, blobs, now=time.time() + 7200)
    assert (finding.kind, finding.subject) == ("unfinished_write", "outputs/.tmp-0123abcd")
    repair_catalog(engine, blobs, [finding])
    assert not (tmp_path / "blobs" / "outputs" / ".tmp-0123abcd").exists()


def test_every_key_the_layout_makes_is_read_back_to_its_owner():
    from catalog.keys import KeyOwner, dense_mesh_key, key_owner, obj_zip_key, painted_mesh_key, view_key, views_manifest_key

    h, v = "ab" * 32, "cd" * 32
    assert key_owner(source_key(v)) == KeyOwner(view=v)
    for key in (view_key("cleaned", h, "left"), views_manifest_key("framed", h)):
        assert key_owner(key) == KeyOwner(object=h)
    for make in (mesh_key, dense_mesh_key, painted_mesh_key, glb_key, obj_zip_key, preview_key):
        assert key_owner(make(h, "hero.v2")) == KeyOwner(object=h, variant="hero.v2")
    assert key_owner("notes/readme.txt") is None and key_owner(f"outputs/{h}") is None


def test_a_blob_other_than_written_is_found_by_its_size_or_with_deep_by_its_content(stores):
    from catalog import Digest, record_digests

    engine, blobs = stores
    variant_id = define_variant(engine, "mobile", {"backend": "builtin"})
    h, output_id = made_object(engine, blobs, 1, variant_id)
    record_digests(engine, {glb_key(h, "mobile"): Digest.of(b"an earlier make")})
    # a file written again gets its new digest
    record_digests(engine, {key: Digest.of(blobs.get(key)) for key in (source_key(h), glb_key(h, "mobile"), preview_key(h, "mobile"))})
    later = time.time() + 7200
    assert check_catalog(engine, blobs, now=later, deep=True) == []

    blobs.put(glb_key(h, "mobile"), b"glT")  # cut short
    blobs.put(preview_key(h, "mobile"), b"PNG")  # the same size, other bytes
    blobs.put(source_key(h), b"pnG")
    assert [(f.kind, f.subject, f.output_id) for f in check_catalog(engine, blobs, now=later)] == [
        ("damaged_blob", glb_key(h, "mobile"), output_id)
    ]
    seen = []
    findings = check_catalog(engine, blobs, now=later, deep=True, progress=lambda done, total: seen.append((done, total)))
    assert kinds(findings) == sorted([("damaged_blob", key) for key in (glb_key(h, "mobile"), preview_key(h, "mobile"), source_key(h))])
    assert seen[-1] == (6, 6)  # the two blobs of the right size were read: 3 bytes each

    repair_catalog(engine, blobs, findings)
    output = output_detail(engine, output_id)["output"]
    assert output["status"] == "failed" and "damaged in the blob store" in output["error"]
    assert not blobs.exists(source_key(h))  # the next ingest of the picture stores it anew


def test_a_write_whose_process_is_gone_is_found_at_once_and_one_in_flight_is_not(tmp_path):
    """Right after a kill (an OOM kill mid-write), `catalog check --repair` mends the killed writer's temporary file
    without waiting out the grace period; a young one of a live process, or of another host, is left alone."""
    engine, blobs = get_engine(f"sqlite:///{tmp_path / 'catalog.db'}"), LocalBlobStore(tmp_path / "blobs")
    folder = tmp_path / "blobs" / "framed"
    folder.mkdir(parents=True)
    child = subprocess.Popen(["true"])
    child.wait()
    mine = temporary_name()
    host, pid = mine.removeprefix(".tmp-").split("-")[:2]
    assert pid == str(os.getpid())
    names = {
        "killed": f".tmp-{host}-{child.pid}-{'a' * 32}",
        "in_flight": mine,
        "elsewhere": f".tmp-{host}x-{child.pid}-{'b' * 32}",
        "older_meshmill": f".tmp-{'c' * 32}",
    }
    for name in names.values():
        (folder / name).write_bytes(b"half a picture")
    found = check_catalog(engine, blobs)
    assert [(f.kind, f.subject) for f in found] == [("unfinished_write", f"framed/{names['killed']}")]
    repair_catalog(engine, blobs, found)
    assert sorted(p.name for p in folder.iterdir()) == sorted(v for k, v in names.items() if k != "killed")
    assert len(check_catalog(engine, blobs, now=time.time() + 7200)) == 3  # the rest wait out the grace period
