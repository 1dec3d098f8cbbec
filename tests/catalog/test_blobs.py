import os
import stat
import urllib.request

import pytest

from catalog import BlobNotFound, LocalBlobStore, S3BlobStore, blob_store_from_env


def fetch_url(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # file:// or presigned http://
        return response.read()


def test_put_get_stat_list_delete(blob_store):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    info = blob_store.put("sources/ab/abc.png", png)
    assert (info.key, info.size, info.content_type) == ("sources/ab/abc.png", len(png), "image/png")
    blob_store.put("outputs/1/model.glb", b"glTF....")
    blob_store.put("outputs/1/model.obj", b"v 0 0 0\n", "text/plain")
    blob_store.put("outputs/10/model.glb", b"glTF")

    assert blob_store.get("sources/ab/abc.png") == png
    assert blob_store.exists("sources/ab/abc.png")
    assert not blob_store.exists("sources/ab/nope.png")
    assert blob_store.stat("outputs/1/model.glb").content_type == "model/gltf-binary"
    assert blob_store.stat("outputs/1/model.glb").size == 8
    assert sorted(blob_store.list("outputs/1/")) == ["outputs/1/model.glb", "outputs/1/model.obj"]
    assert len(list(blob_store.list())) == 4
    assert fetch_url(blob_store.url("sources/ab/abc.png")) == png

    blob_store.put("sources/ab/abc.png", b"replaced")
    assert blob_store.get("sources/ab/abc.png") == b"replaced"
    blob_store.delete("sources/ab/abc.png")
    blob_store.delete("sources/ab/abc.png")  # deleting what is gone is fine
    assert not blob_store.exists("sources/ab/abc.png")
    with pytest.raises(BlobNotFound, match="sources/ab/abc.png"):
        blob_store.get("sources/ab/abc.png")
    with pytest.raises(BlobNotFound):
        blob_store.stat("sources/ab/abc.png")


@pytest.mark.parametrize("key", ["../escape.png", "/etc/passwd", "a//b", "a/./b", "", "a/b/..", "sp ace.png", "a\\b"])
def test_keys_that_could_escape_or_confuse_are_refused(blob_store, key):
    with pytest.raises(ValueError, match="invalid blob key"):
        blob_store.put(key, b"x")
    with pytest.raises(ValueError, match="invalid blob key"):
        blob_store.get(key)


def test_local_write_that_fails_midway_keeps_the_old_blob_and_no_temp_file(tmp_path, monkeypatch):
    store = LocalBlobStore(tmp_path / "blobs")
    store.put("a/b.bin", b"old")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        store.put("a/b.bin", b"new")
    monkeypatch.undo()
    assert store.get("a/b.bin") == b"old"
    assert sorted(p.name for p in (tmp_path / "blobs" / "a").iterdir()) == ["b.bin"]


def test_store_is_chosen_from_the_environment(monkeypatch, tmp_path, s3_settings):
    for name in list(s3_settings) + ["MESHMILL_BLOB_DIR", "MESHMILL_S3_PREFIX"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MESHMILL_HOME", str(tmp_path / "home"))
    local = blob_store_from_env()
    assert isinstance(local, LocalBlobStore) and local.root == tmp_path / "home" / "blobs"

    for name, value in s3_settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MESHMILL_S3_PREFIX", "studio/meshmill")
    s3 = blob_store_from_env()
    assert isinstance(s3, S3BlobStore)
    s3.put("x/y.png", b"png")
    assert list(s3.list("x/")) == ["x/y.png"]
    assert [o.object_name for o in s3.client.list_objects(s3.bucket, recursive=True)] == ["studio/meshmill/x/y.png"]

    monkeypatch.setenv("MESHMILL_S3_ENDPOINT", "http://" + s3_settings["MESHMILL_S3_ENDPOINT"])
    monkeypatch.setenv("MESHMILL_S3_SECURE", "true")  # the URL's scheme wins
    assert blob_store_from_env().get("x/y.png") == b"png"

    monkeypatch.delenv("MESHMILL_S3_SECRET_KEY")
    with pytest.raises(Exception, match="MESHMILL_S3_SECRET_KEY"):
        blob_store_from_env()


def test_a_stored_blob_is_readable_as_the_umask_allows(tmp_path):
    """mkstemp makes its file 0600; a studio's other accounts (the web app, a render farm) must read blobs."""
    store = LocalBlobStore(tmp_path)
    store.put("outputs/a/model.glb", b"glTF")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "outputs/a/model.glb").stat().st_mode) == 0o666 & ~umask


def test_a_server_that_does_not_answer_is_tried_for_the_stores_budget_then_named(monkeypatch):
    import urllib3

    from catalog.blobs import BlobStoreUnreachable, store_retry_seconds

    calls, naps = [], []

    def away_for(count: int):  # noqa: ANN202
        def put_object(*args, **kwargs) -> None:  # noqa: ANN002, ANN003
            calls.append(args[1])
            if len(calls) <= count:
                raise urllib3.exceptions.ProtocolError("Connection refused")

        return put_object

    now = [0.0]

    def nap(seconds: float) -> None:  # the waits, counted on a clock of the test's, without waiting them
        naps.append(seconds)
        now[0] += seconds

    monkeypatch.setattr("catalog.blobs.sleep", nap)
    monkeypatch.setattr("catalog.blobs.monotonic", lambda: now[0])
    patient = S3BlobStore("127.0.0.1:9", "k", "s", "bucket", secure=False, create_bucket=False, retry_for=20)
    monkeypatch.setattr(patient.client, "put_object", away_for(2))
    assert patient.put("a/b", b"x").size == 1 and len(calls) == 3 and naps == [1.0, 2.0]  # back after two tries: written

    calls.clear(), naps.clear()
    monkeypatch.setattr(patient.client, "put_object", away_for(100))
    with pytest.raises(BlobStoreUnreachable, match=r"writing 'a/b' in s3://bucket/ at .*: the server did not answer .*\(tried for \d+ s\)"):
        patient.put("a/b", b"x")
    assert naps == [1.0, 2.0, 4.0, 8.0]  # 1 + 2 + 4 + 8 s and the tries between them; the next 15 s would pass 20 s
    hasty = S3BlobStore("127.0.0.1:9", "k", "s", "bucket", secure=False, create_bucket=False)
    monkeypatch.setattr(hasty.client, "put_object", away_for(1000))
    calls.clear(), naps.clear()
    with pytest.raises(BlobStoreUnreachable) as raised:
        hasty.put("a/b", b"x")
    assert "tried for" not in str(raised.value) and len(calls) == 1 and naps == []  # a command's store answers at once
    monkeypatch.setenv("MESHMILL_STORE_RETRY_SECONDS", "soon")
    with pytest.raises(ValueError, match="expected seconds"):
        store_retry_seconds()
    monkeypatch.delenv("MESHMILL_STORE_RETRY_SECONDS")
    assert store_retry_seconds() == 120.0
