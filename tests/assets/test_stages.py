"""The Dagster assets, called directly with build_asset_context and materialised through Dagster."""

from __future__ import annotations

import io
from pathlib import Path

import dagster as dg
import pytest
import trimesh

import catalog
from assets.stages import UpscaleConfig, cleaned_image, source_image, upscaled_image
from orchestration.convert import materialise
from orchestration.ingest import ingest_paths
from orchestration.partitions import image_key
from orchestration.resources import CatalogResource, ComputeResource
from tests.clients import validate_gltf
from tests.imagefiles import prop_image

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MESHMILL_HOME", str(tmp_path / "home"))
    for name in ("MESHMILL_DATABASE_URL", "MESHMILL_S3_ENDPOINT", "MESHMILL_BLOB_DIR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def ingest(*paths: Path) -> dict[str, int]:
    engine, blobs = catalog.get_engine(), catalog.blob_store_from_env()
    results = list(ingest_paths(paths, engine, blobs, collections=["test"]))
    return {image_key(r.content_hash): r.source_id for r in results if r.source_id}


def test_image_assets_called_directly(home):
    (key, source_id), = ingest(SAMPLES / "mug.jpg").items()
    resource = CatalogResource()
    meta = source_image(dg.build_asset_context(partition_key=key), catalog=resource).metadata
    assert meta["catalog_id"] == source_id and meta["width"] == 512
    cleaned = cleaned_image(dg.build_asset_context(partition_key=key), catalog=resource).metadata
    assert 0.05 < cleaned["mask_coverage"] < 0.95
    up = upscaled_image(dg.build_asset_context(partition_key=key), config=UpscaleConfig(factor=2), catalog=resource,
                        compute=ComputeResource(device="cpu")).metadata  # fmt: skip
    assert up["width"] == 2 * cleaned["width"]
    blobs = catalog.blob_store_from_env()
    assert blobs.exists(cleaned["blob_key"]) and blobs.exists(up["blob_key"])


def test_three_images_by_two_variants_through_dagster(home, tmp_path):
    for n in range(2):
        prop_image(n, size=96).save(tmp_path / f"prop{n}.png")
    keys = ingest(SAMPLES / "duck.png", tmp_path / "prop0.png", tmp_path / "prop1.png")
    engine = catalog.get_engine()
    catalog.define_variant(engine, "mobile", backend="builtin", preset="mobile", target_faces=1500, texture_size=512)
    catalog.define_variant(engine, "desktop", backend="builtin", preset="desktop", target_faces=3000, texture_size=512)
    instance = dg.DagsterInstance.ephemeral()
    report = materialise(instance, sorted(keys), ["mobile", "desktop"], upscale=1)
    assert report.failures == [] and len(report.outcomes) == 3 * 3

    blobs = catalog.blob_store_from_env()
    glbs = []
    for key, source_id in keys.items():
        outputs = {o["variant"]: o for o in catalog.show(engine, source_id)["outputs"]}
        assert set(outputs) == {"mobile", "desktop"}
        for name, target in (("mobile", 1500), ("desktop", 3000)):
            output = outputs[name]
            assert output["status"] == "succeeded" and abs(output["face_count"] - target) <= 0.05 * target
            assert output["dagster_run_id"] and output["parameters"]["target_faces"] == target
            assert {"shape", "cleanup", "uv", "texture", "export"} <= set(output["timings"])  # both 3D stages' seconds
            path = tmp_path / f"{key}-{name}.glb"
            path.write_bytes(blobs.get(output["blob_keys"]["glb"]))
            glbs.append(path)
            assert blobs.get(output["blob_keys"]["preview"]).startswith(b"\x89PNG")
    assert all(r["errors"] == 0 and r["warnings"] == 0 for r in validate_gltf(*glbs))

    # the UI's view of it: materialisations with metadata, checks passed
    partition = dg.MultiPartitionKey({"image": sorted(keys)[0], "variant": "mobile"})
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("textured_glb"), asset_partitions=[str(partition)]), limit=1
    ).records
    assert len(records) == 1
    metadata = records[0].asset_materialization.metadata
    assert metadata["faces"].value > 0 and "data:image/png;base64," in metadata["preview"].value
    # the link to the web app's page of this output; the page links back to str(partition) (tests/web)
    assert metadata["output_page"].value == f"http://127.0.0.1:8787/outputs/{metadata['output_id'].value}"
    checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("textured_glb"), name) for name in ("valid_gltf", "face_budget", "non_empty")]
    )
    assert len(checks) == 3

    # re-materialising keeps the earlier attempt
    again = materialise(instance, [sorted(keys)[0]], ["mobile"], upscale=1)
    assert again.failures == []
    output = next(o for o in catalog.show(engine, keys[sorted(keys)[0]])["outputs"] if o["variant"] == "mobile")
    assert [a["status"] for a in catalog.attempts_of(engine, output["id"])] == ["succeeded", "succeeded"]


def test_a_bad_image_fails_only_its_own_partitions(home, tmp_path):
    from PIL import Image

    Image.new("RGB", (100, 100), (240, 240, 240)).save(tmp_path / "blank.png")  # decodes, but shows nothing
    keys = ingest(SAMPLES / "soccer_ball.png", tmp_path / "blank.png")
    engine = catalog.get_engine()
    catalog.define_variant(engine, "mobile", backend="builtin", preset="mobile", target_faces=1000, texture_size=512)
    report = materialise(dg.DagsterInstance.ephemeral(), sorted(keys), ["mobile"], upscale=1)
    failed = {(o.image, o.variant) for o in report.failures}
    blank = next(k for k, sid in keys.items() if catalog.show(engine, sid)["filename"] == "blank.png")
    assert failed == {(blank, None), (blank, "mobile")}
    assert "no object found" in next(o.error for o in report.failures if o.variant is None)
    ball = next(k for k in keys if k != blank)
    (output,) = catalog.show(engine, keys[ball])["outputs"]
    assert output["status"] == "succeeded"
    loaded = trimesh.load(io.BytesIO(catalog.blob_store_from_env().get(output["blob_keys"]["glb"])), file_type="glb", force="mesh")
    assert len(loaded.faces) > 900


def test_transient_faults_are_retried_and_bad_input_is_not(home, tmp_path, monkeypatch):
    from PIL import Image

    from orchestration.definitions import IMAGE_ASSETS, RESOURCES

    keys = ingest(SAMPLES / "soccer_ball.png")
    (key,) = keys
    real_get = catalog.LocalBlobStore.get
    calls = {"n": 0}

    def flaky_get(self, blob_key):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("storage briefly unreachable")
        return real_get(self, blob_key)

    monkeypatch.setattr(catalog.LocalBlobStore, "get", flaky_get)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("images", [key])
    result = dg.materialize(IMAGE_ASSETS, partition_key=key, instance=instance, resources=RESOURCES)
    assert result.success
    assert any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in result.all_events)

    monkeypatch.setattr(catalog.LocalBlobStore, "get", real_get)
    Image.new("RGB", (100, 100), (240, 240, 240)).save(tmp_path / "blank.png")
    (blank,) = ingest(tmp_path / "blank.png")
    instance.add_dynamic_partitions("images", [blank])
    failed = dg.materialize(IMAGE_ASSETS, partition_key=blank, instance=instance, resources=RESOURCES, raise_on_error=False)
    assert not failed.success
    assert not any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in failed.all_events)
