"""The Dagster assets, called directly with build_asset_context and materialised through Dagster."""

from __future__ import annotations

import io
from pathlib import Path

import dagster as dg
import trimesh
from PIL import Image

import catalog
from assets import IMAGE_ASSETS, MODEL_ASSETS
from assets.image_assets import CleanConfig, UpscaleConfig, cleaned_image, image_stage_config, source_image, upscaled_image
from assets.model_assets import textured_glb
from assets.resources import CatalogResource, ComputeResource
from catalog.keys import image_partition_key
from inference.params import GenerationParams
from inference.pipeline import frame_size
from orchestration.convert import materialise
from orchestration.definitions import RESOURCES
from orchestration.ingest import ingest_paths
from tests.support import SAMPLES
from tests.support.clients import validate_gltf
from tests.support.images import prop_image


def ingest(*paths: Path) -> dict[str, int]:
    engine, blobs = catalog.get_engine(), catalog.blob_store_from_env()
    results = list(ingest_paths(paths, engine, blobs, collections=["test"]))
    return {image_partition_key(r.content_hash): r.source_id for r in results if r.source_id}


def test_image_assets_called_directly(home):
    ((key, source_id),) = ingest(SAMPLES / "mug.jpg").items()
    resource = CatalogResource()
    meta = source_image(dg.build_asset_context(partition_key=key), catalog=resource).metadata
    assert meta["catalog_id"] == source_id and meta["width"] == 512
    cleaned = cleaned_image(dg.build_asset_context(partition_key=key), config=CleanConfig(), catalog=resource).metadata
    assert 0.05 < cleaned["mask_coverage"] < 0.95
    assert (cleaned["remove_background"], cleaned["background"]) == (True, "builtin")
    up = upscaled_image(
        dg.build_asset_context(partition_key=key), config=UpscaleConfig(upscale=2), catalog=resource, compute=ComputeResource(device="cpu")
    ).metadata
    # framed once per image, at the resolution of the upscaled cut-out
    upscaled = Image.new("RGBA", (2 * cleaned["width"], 2 * cleaned["height"]))
    assert up["width"] == up["height"] == frame_size({"front": upscaled}) and up["views"] == ["front"]
    assert (up["upscale"], up["upscaler"], up["background"]) == (2, "builtin", "builtin")
    blobs = catalog.blob_store_from_env()
    assert blobs.exists(cleaned["blob_key"]) and blobs.exists(up["blob_key"])


def test_the_record_follows_the_image_stage_settings_that_made_the_views(home):
    """Re-materialising an image stage with other settings changes what the next 3D run records: the
    settings travel with the stored views, not with the run that asks for the 3D stages."""
    ((key, source_id),) = ingest(SAMPLES / "soccer_ball.png").items()
    engine = catalog.get_engine()
    catalog.define_variant(engine, "mobile", backend="builtin", preset="mobile", target_faces=800, texture_size=512)
    instance = dg.DagsterInstance.ephemeral()
    assert materialise(instance, [key], ["mobile"], image_params=GenerationParams(upscale=2)).failures == []
    (output,) = catalog.show(engine, source_id)["outputs"]
    assert output["parameters"]["upscale"] == 2 and output["parameters"]["target_faces"] == 800

    # a TD re-runs the image stages from the launchpad with ×1, then only textured_glb
    dg.materialize(
        IMAGE_ASSETS,
        partition_key=key,
        instance=instance,
        resources=RESOURCES,
        run_config=image_stage_config(GenerationParams(upscale=1, remove_background=False)),
    )
    partition = dg.MultiPartitionKey({"image": key, "variant": "mobile"})
    again = dg.materialize(
        [*IMAGE_ASSETS, *MODEL_ASSETS], selection=[textured_glb], partition_key=partition, instance=instance, resources=RESOURCES
    )
    assert again.success
    (output,) = catalog.show(engine, source_id)["outputs"]
    assert (output["parameters"]["upscale"], output["parameters"]["remove_background"]) == (1, False)
    first, second = catalog.attempts_of(engine, output["id"])
    assert (first["model_name"], first["model_version"]) == ("builtin", "1.0")  # the mesh stage made a shape
    assert second["model_name"] is None and second["parameters"]["upscale"] == 1  # re-texturing only
    assert (output["model_name"], output["model_version"]) == ("builtin", "1.0")


def test_textured_glb_needs_no_model():
    """Texturing reads the stored mesh; it must never build a generator (for a learned backend, a model load)."""
    assert "compute" not in textured_glb.required_resource_keys


def test_three_images_by_two_variants_through_dagster(home, tmp_path):
    for n in range(2):
        prop_image(n, size=96).save(tmp_path / f"prop{n}.png")
    keys = ingest(SAMPLES / "duck.png", tmp_path / "prop0.png", tmp_path / "prop1.png")
    engine = catalog.get_engine()
    catalog.define_variant(engine, "mobile", backend="builtin", preset="mobile", target_faces=1500, texture_size=512)
    catalog.define_variant(engine, "desktop", backend="builtin", preset="desktop", target_faces=3000, texture_size=512)
    instance = dg.DagsterInstance.ephemeral()
    report = materialise(instance, sorted(keys), ["mobile", "desktop"])
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
            assert output["parameters"] | GenerationParams().image_settings() == output["parameters"]  # the defaults, recorded
            assert (output["model_name"], output["model_version"]) == ("builtin", "1.0")
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
    again = materialise(instance, [sorted(keys)[0]], ["mobile"])
    assert again.failures == []
    output = next(o for o in catalog.show(engine, keys[sorted(keys)[0]])["outputs"] if o["variant"] == "mobile")
    assert [a["status"] for a in catalog.attempts_of(engine, output["id"])] == ["succeeded", "succeeded"]


def test_a_bad_image_fails_only_its_own_partitions(home, tmp_path):
    Image.new("RGB", (100, 100), (240, 240, 240)).save(tmp_path / "blank.png")  # decodes, but shows nothing
    keys = ingest(SAMPLES / "soccer_ball.png", tmp_path / "blank.png")
    engine = catalog.get_engine()
    catalog.define_variant(engine, "mobile", backend="builtin", preset="mobile", target_faces=1000, texture_size=512)
    report = materialise(dg.DagsterInstance.ephemeral(), sorted(keys), ["mobile"])
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
