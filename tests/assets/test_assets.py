"""The Dagster assets, called as functions with build_asset_context and materialised through Dagster."""

from __future__ import annotations

import errno
import io
import logging
import zipfile
from pathlib import Path

import dagster as dg
import pytest
import trimesh
from PIL import Image
from pygltflib import GLTF2

import assets.resources
import catalog
from assets import ASSETS
from assets.image_assets import ImageStagesConfig, cut_out_and_upscale, image_stage_config
from assets.partitions import image_variants, images
from assets.resources import CatalogResource, ComputeResource
from catalog.keys import dense_mesh_key, image_partition_key
from inference.generators.builtin import VERSION as BUILTIN_VERSION
from inference.mesh.audit import audit_glb
from inference.params import GenerationParams
from inference.pipeline import frame_size
from orchestration.convert import materialise
from orchestration.definitions import RESOURCES
from orchestration.ingest import ingest_paths
from tests.support import SAMPLES, variant_params
from tests.support.clients import validate_gltf
from tests.support.images import prop_image


def ingest(*paths: Path) -> dict[str, int]:
    engine, blobs = catalog.get_engine(), catalog.blob_store_from_env()
    results = list(ingest_paths(paths, engine, blobs, collections=["test"]))
    return {image_partition_key(r.content_hash, r.name): r.source_id for r in results if r.source_id}


def mobile_variant(faces: int = 1000) -> None:
    catalog.define_variant(catalog.get_engine(), "mobile", variant_params("mobile", target_faces=faces, texture_size=512))


def status(instance: dg.DagsterInstance, asset: str, keys: list[str]) -> dict[str, str]:
    """What the UI shows for these partitions of an asset: MATERIALIZED, FAILED, or missing (None)."""
    partitions = image_variants if asset in ("mesh", "textured_glb") else images
    found = instance.get_status_by_partition(dg.AssetKey(asset), keys, partitions) or {}
    return {key: found[key].value if found.get(key) else None for key in keys}


def test_the_image_stages_called_as_a_function(home):
    ((key, source_id),) = ingest(SAMPLES / "mug.jpg").items()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("images", [key])
    context = dg.build_asset_context(partition_key=key, instance=instance)
    events = list(
        cut_out_and_upscale(context, config=ImageStagesConfig(upscale=2), catalog=CatalogResource(), compute=ComputeResource(device="cpu"))
    )
    source, cleaned, upscaled = ({k: v.value for k, v in e.metadata.items()} for e in events)
    assert [(e.asset_key.to_user_string(), e.partition) for e in events] == [
        (a, key) for a in ("source_image", "cleaned_image", "upscaled_image")
    ]
    assert source["catalog_id"] == source_id and source["width"] == 512
    assert 0.05 < cleaned["mask_coverage"] < 0.95 and (cleaned["remove_background"], cleaned["background"]) == (True, "builtin")
    # framed once per image, at the resolution of the upscaled cut-out
    expected = frame_size({"front": Image.new("RGBA", (2 * cleaned["width"], 2 * cleaned["height"]))})
    assert upscaled["width"] == upscaled["height"] == expected and upscaled["views"] == ["front"]
    assert (upscaled["upscale"], upscaled["upscaler"], upscaled["background"]) == (2, "builtin", "builtin")
    blobs = catalog.blob_store_from_env()
    assert blobs.exists(cleaned["blob_key"]) and blobs.exists(upscaled["blob_key"])


def test_a_batch_is_two_runs_and_every_partition_its_own_materialisation(home, tmp_path):
    for n in range(2):
        prop_image(n, size=96).save(tmp_path / f"prop{n}.png")
    keys = ingest(SAMPLES / "duck.png", tmp_path / "prop0.png", tmp_path / "prop1.png")
    engine = catalog.get_engine()
    mobile_variant(1500)
    catalog.define_variant(engine, "desktop", variant_params("desktop", target_faces=3000, texture_size=512))
    instance = dg.DagsterInstance.ephemeral()
    report = materialise(instance, RESOURCES["catalog"], sorted(keys), ["mobile", "desktop"])
    assert report.failures == [] and len(report.outcomes) == 3 * 3
    assert len(instance.get_runs()) == 2  # the image stages of the three images, then their six 3D partitions

    blobs, glbs = catalog.blob_store_from_env(), []
    for key, source_id in keys.items():
        outputs = {o["variant"]: o for o in catalog.show(engine, source_id)["outputs"]}
        assert set(outputs) == {"mobile", "desktop"}
        for name, target in (("mobile", 1500), ("desktop", 3000)):
            output = outputs[name]
            assert output["status"] == "succeeded" and abs(output["face_count"] - target) <= 0.05 * target
            assert output["dagster_run_id"] and output["parameters"]["target_faces"] == target
            assert output["parameters"] | GenerationParams().image_settings() == output["parameters"]  # the defaults, recorded
            assert (output["model_name"], output["model_version"]) == ("builtin", BUILTIN_VERSION)
            assert {"shape", "cleanup", "uv", "texture", "export"} <= set(output["timings"])
            glbs.append(tmp_path / f"{key}-{name}.glb")
            glbs[-1].write_bytes(blobs.get(output["blob_keys"]["glb"]))
            assert blobs.get(output["blob_keys"]["preview"]).startswith(b"\x89PNG")
    assert all(r["errors"] == 0 and r["warnings"] == 0 for r in validate_gltf(*glbs))

    # the UI's view: each partition materialised with its own metadata, its checks evaluated
    partitions = [f"{key}|{variant}" for key in keys for variant in ("mobile", "desktop")]
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=dg.AssetKey("textured_glb")), limit=100).records
    by_partition = {r.partition_key: r.asset_materialization.metadata for r in records}
    assert set(by_partition) == set(partitions)
    assert len({m["output_id"].value for m in by_partition.values()}) == 6  # not one metadata copied across the range
    duck = next(p for p in partitions if p.endswith("mobile") and keys[p.split("|")[0]] == min(keys.values()))
    metadata = by_partition[duck]
    assert metadata["faces"].value > 0 and "data:image/png;base64," in metadata["preview"].value
    assert metadata["output_page"].value == f"http://127.0.0.1:8787/outputs/{metadata['output_id'].value}"
    meshes = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=dg.AssetKey("mesh")), limit=100).records
    assert {m.asset_materialization.metadata["models_loaded_in_worker"].value for m in meshes} == {1}  # loaded once, kept warm
    checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("textured_glb"), name) for name in ("valid_gltf", "face_budget", "non_empty")]
    )
    assert len(checks) == 3
    assert set(status(instance, "textured_glb", partitions).values()) == {"MATERIALIZED"}

    # made before with the same settings: skipped; forced, made again, keeping the earlier attempt
    again = materialise(instance, RESOURCES["catalog"], [sorted(keys)[0]], ["mobile"])
    assert {(o.variant, o.skipped) for o in again.outcomes} == {(None, True), ("mobile", True)}
    assert len(instance.get_runs()) == 2
    assert materialise(instance, RESOURCES["catalog"], [sorted(keys)[0]], ["mobile"], force=True).failures == []
    output = next(o for o in catalog.show(engine, keys[sorted(keys)[0]])["outputs"] if o["variant"] == "mobile")
    assert [a["status"] for a in catalog.attempts_of(engine, output["id"])] == ["succeeded", "succeeded"]


def test_a_bad_image_fails_only_itself_and_shows_failed(home, tmp_path):
    Image.new("RGB", (100, 100), (240, 240, 240)).save(tmp_path / "blank.png")  # decodes, but shows nothing
    keys = ingest(SAMPLES / "soccer_ball.png", tmp_path / "blank.png", SAMPLES / "duck.png")
    engine = catalog.get_engine()
    mobile_variant()
    instance = dg.DagsterInstance.ephemeral()
    report = materialise(instance, RESOURCES["catalog"], sorted(keys), ["mobile"])
    blank = next(k for k, sid in keys.items() if catalog.show(engine, sid)["filename"] == "blank.png")
    assert {(o.image, o.variant) for o in report.failures} == {(blank, None), (blank, "mobile")}
    assert "no object found" in next(o.error for o in report.failures if o.variant is None)
    good = [k for k in keys if k != blank]
    for key in good:
        (output,) = catalog.show(engine, keys[key])["outputs"]
        assert output["status"] == "succeeded"
        loaded = trimesh.load(io.BytesIO(catalog.blob_store_from_env().get(output["blob_keys"]["glb"])), file_type="glb", force="mesh")
        assert len(loaded.faces) > 900
    (failed,) = catalog.show(engine, keys[blank])["outputs"]
    assert failed["status"] == "failed" and "no object found" in failed["error"]
    # in the UI: the good images materialised, the blank one failed, the run's failure naming it
    assert status(instance, "upscaled_image", sorted(keys)) == {k: "FAILED" if k == blank else "MATERIALIZED" for k in sorted(keys)}
    assert set(status(instance, "textured_glb", [f"{k}|mobile" for k in good]).values()) == {"MATERIALIZED"}
    image_run = next(r for r in instance.get_runs() if r.job_name == "image_stages")
    failure = next(e for e in instance.all_logs(image_run.run_id) if e.dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE")
    assert f"blank.png ({blank}): front view: no object found" in failure.dagster_event.step_failure_data.user_failure_data.description


def test_the_record_follows_the_image_stage_settings_that_made_the_views(home):
    """Re-materialising the image stages with other settings changes what the next 3D run records: the
    settings travel with the stored views, not with the run that asks for the 3D stages."""
    ((key, source_id),) = ingest(SAMPLES / "soccer_ball.png").items()
    engine = catalog.get_engine()
    mobile_variant(800)
    instance = dg.DagsterInstance.ephemeral()
    assert materialise(instance, RESOURCES["catalog"], [key], ["mobile"], image_params=GenerationParams(upscale=2)).failures == []
    (output,) = catalog.show(engine, source_id)["outputs"]
    assert output["parameters"]["upscale"] == 2 and output["parameters"]["target_faces"] == 800

    # a TD re-runs the image stages from the launchpad with ×1 and the image's own alpha, then only textured_glb
    settings = image_stage_config(GenerationParams(upscale=1, remove_background=False))
    assert dg.materialize(ASSETS, selection=["source_image", "cleaned_image", "upscaled_image"], partition_key=key,
                          instance=instance, resources=RESOURCES, run_config=settings).success  # fmt: skip
    assets.resources._generators.clear()
    partition = dg.MultiPartitionKey({"image": key, "variant": "mobile"})
    again = dg.materialize(ASSETS, selection=["textured_glb"], partition_key=partition, instance=instance, resources=RESOURCES)
    assert again.success
    assert ComputeResource.models_loaded() == 0  # re-texturing never loads a model
    (output,) = catalog.show(engine, source_id)["outputs"]
    assert (output["parameters"]["upscale"], output["parameters"]["remove_background"]) == (1, False)
    first, second = catalog.attempts_of(engine, output["id"])
    assert (first["model_name"], first["model_version"]) == ("builtin", BUILTIN_VERSION)  # the mesh stage made a shape
    assert second["model_name"] is None and second["parameters"]["upscale"] == 1  # re-texturing only
    assert (output["status"], output["model_name"], output["model_version"]) == ("succeeded", "builtin", BUILTIN_VERSION)
    # mobile bakes a normal map: re-texturing alone bakes it again, from the dense surface the mesh stage kept
    blobs = catalog.blob_store_from_env()
    dense = dense_mesh_key(catalog.show(engine, source_id)["content_hash"], "mobile")
    assert blobs.exists(dense)
    assert GLTF2.load_from_bytes(blobs.get(output["blob_keys"]["glb"])).materials[0].normalTexture is not None
    # a mesh made without its dense surface (before normal maps): re-texturing alone says what to do instead
    blobs.delete(dense)
    alone = {"selection": ["textured_glb"], "partition_key": partition, "instance": instance, "resources": RESOURCES}
    assert not dg.materialize(ASSETS, **alone, raise_on_error=False).success
    (output,) = catalog.show(engine, source_id)["outputs"]
    assert output["status"] == "failed" and "materialise mesh and textured_glb together" in output["error"]


def test_transient_faults_are_retried_for_the_partition_and_bad_input_is_not(home, tmp_path, monkeypatch):
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
    monkeypatch.setattr("assets.batch.FIRST_PAUSE", 0.1)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("images", [key])
    result = dg.materialize(ASSETS, selection=["source_image", "cleaned_image", "upscaled_image"], partition_key=key,
                            instance=instance, resources=RESOURCES)  # fmt: skip
    assert result.success
    assert any(
        "storage briefly unreachable" in (e.message or "") and "trying again" in (e.message or "") for e in instance.all_logs(result.run_id)
    )

    monkeypatch.setattr(catalog.LocalBlobStore, "get", real_get)
    Image.new("RGB", (100, 100), (240, 240, 240)).save(tmp_path / "blank.png")
    (blank,) = ingest(tmp_path / "blank.png")
    instance.add_dynamic_partitions("images", [blank])
    failed = dg.materialize(ASSETS, selection=["source_image", "cleaned_image", "upscaled_image"], partition_key=blank,
                            instance=instance, resources=RESOURCES, raise_on_error=False)  # fmt: skip
    assert not failed.success
    messages = [e.message or "" for e in instance.all_logs(failed.run_id)]
    assert not any("trying again" in m for m in messages) and not any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in failed.all_events)

    def out_of_memory(self, blob_key):  # noqa: ANN001, ANN202
        raise MemoryError

    monkeypatch.setattr(catalog.LocalBlobStore, "get", out_of_memory)  # a MemoryError is failed at once, named
    oom = dg.materialize(ASSETS, selection=["source_image", "cleaned_image", "upscaled_image"], partition_key=key,
                         instance=instance, resources=RESOURCES, raise_on_error=False)  # fmt: skip
    messages = [e.message or "" for e in instance.all_logs(oom.run_id)]
    assert not oom.success and not any("trying again" in m for m in messages)
    assert any("MemoryError: out of memory" in m for m in messages)

    # a full disk is failed at once (trying again in 2, 4, 8 s mends nothing), named in one line without its SQL
    for full_disk, named in (
        (OSError("database or disk is full\n[SQL: UPDATE output SET status=? …]\n[parameters: (…)]"),
         "OSError: no space left for the catalog or Dagster's storage (database or disk is full): free some and run it again"),
        (OSError(errno.ENOSPC, "No space left on device", "/data/blobs/cleaned/ab.png"),
         "OSError: no space left on the device writing /data/blobs/cleaned/ab.png: free some and run it again"),
    ):  # fmt: skip

        def disk_full(self, blob_key, error=full_disk):  # noqa: ANN001, ANN202
            raise error

        monkeypatch.setattr(catalog.LocalBlobStore, "get", disk_full)
        full = dg.materialize(ASSETS, selection=["source_image", "cleaned_image", "upscaled_image"], partition_key=key,
                              instance=instance, resources=RESOURCES, raise_on_error=False)  # fmt: skip
        messages = [e.message or "" for e in instance.all_logs(full.run_id)]
        errors = [e.message or "" for e in instance.all_logs(full.run_id) if e.level == logging.ERROR]
        assert not full.success and not any("trying again" in m for m in messages), messages
        assert any(m.endswith(named) for m in errors), errors


@pytest.mark.parametrize("selection", [["mesh"], ["mesh", "textured_glb"]])
def test_a_new_shape_without_its_glb_leaves_the_output_pending(home, selection):
    ((key, source_id),) = ingest(SAMPLES / "soccer_ball.png").items()
    mobile_variant()
    instance = dg.DagsterInstance.ephemeral()
    assert materialise(instance, RESOURCES["catalog"], [key], []).failures == []  # the image stages only
    instance.add_dynamic_partitions("variants", ["mobile"])
    partition = dg.MultiPartitionKey({"image": key, "variant": "mobile"})
    assert dg.materialize(ASSETS, selection=selection, partition_key=partition, instance=instance, resources=RESOURCES).success
    (output,) = catalog.show(catalog.get_engine(), source_id)["outputs"]
    assert output["status"] == ("pending" if selection == ["mesh"] else "succeeded")
    (attempt,) = catalog.attempts_of(catalog.get_engine(), output["id"])
    assert attempt["status"] == "succeeded" and attempt["model_name"] == "builtin"  # the shape was made; nothing left running


def test_a_licence_the_studio_setting_forbids_fails_the_output_at_once_with_why(home, monkeypatch):
    """A run started outside convert (the UI): the 3D step refuses the model by name, records the failure
    on the output and does not try again."""
    ((key, source_id),) = ingest(SAMPLES / "soccer_ball.png").items()
    catalog.define_variant(catalog.get_engine(), "hy", variant_params("mobile", backend="hunyuan3d-2mini-turbo"))
    instance = dg.DagsterInstance.ephemeral()
    assert materialise(instance, RESOURCES["catalog"], [key], []).failures == []  # the image stages only
    instance.add_dynamic_partitions("variants", ["hy"])
    monkeypatch.setenv("MESHMILL_TERRITORY", "UK")
    partition = dg.MultiPartitionKey({"image": key, "variant": "hy"})
    result = dg.materialize(ASSETS, selection=["mesh", "textured_glb"], partition_key=partition, instance=instance, resources=RESOURCES,
                            raise_on_error=False)  # fmt: skip
    assert not result.success and not any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in result.all_events)
    assert not any("trying again" in (e.message or "") for e in instance.all_logs(result.run_id))
    (output,) = catalog.show(catalog.get_engine(), source_id)["outputs"]
    assert output["status"] == "failed" and "hunyuan3d-2mini-turbo: its licence" in output["error"] and "excludes UK" in output["error"]


def test_quads_and_levels_of_detail_are_recorded_and_survive_re_texturing(home):
    """A variant with quad retopology and two further levels: the catalog records their counts, the OBJ zip is
    kept with the GLB (which cannot give the quads back), and re-texturing alone keeps the quads it reads
    back from the stored shape."""
    ((key, source_id),) = ingest(SAMPLES / "soccer_ball.png").items()
    engine = catalog.get_engine()
    catalog.define_variant(
        engine, "game", variant_params("mobile", target_faces=1000, texture_size=512, lods=2, remesh="quad", uv_mode="box")
    )
    instance = dg.DagsterInstance.ephemeral()
    assert materialise(instance, RESOURCES["catalog"], [key], ["game"]).failures == []
    (output,) = catalog.show(engine, source_id)["outputs"]
    blobs = catalog.blob_store_from_env()

    def quads_in_zip() -> int:
        archive = zipfile.ZipFile(io.BytesIO(blobs.get(output["blob_keys"]["obj"])))
        assert {"soccer_ball_game_LOD1.obj", "soccer_ball_game_LOD2.obj"} <= set(archive.namelist())
        text = archive.read("soccer_ball_game.obj").decode()
        return sum(len(line.split()) == 5 for line in text.splitlines() if line.startswith("f "))

    assert output["parameters"]["remesh"] == "quad" and output["parameters"]["lods"] == 2
    assert 450 <= output["quad_count"] <= 550 and abs(output["face_count"] - 1000) <= 50
    assert len(output["lod_face_counts"]) == 2 and output["lod_face_counts"][0] < output["face_count"]
    assert audit_glb(blobs.get(output["blob_keys"]["glb"])).lod_faces == output["lod_face_counts"]  # its MSFT_lod levels
    first = quads_in_zip()
    assert first >= 0.99 * output["quad_count"]
    partition = dg.MultiPartitionKey({"image": key, "variant": "game"})
    assert dg.materialize(ASSETS, selection=["textured_glb"], partition_key=partition, instance=instance, resources=RESOURCES).success
    (output,) = catalog.show(engine, source_id)["outputs"]
    assert quads_in_zip() == first and output["quad_count"] >= first


def test_convert_works_on_the_catalog_it_is_handed(home, tmp_path):
    """A catalog other than the environment's: convert reads its sources and variants from it, and the runs it
    starts record their outputs there; the environment's catalog is never touched."""
    store = CatalogResource(database_url=f"sqlite:///{tmp_path / 'studio.db'}")
    engine = store.engine()
    ((result),) = ingest_paths([SAMPLES / "soccer_ball.png"], engine, store.blobs(), collections=["test"])
    catalog.define_variant(engine, "mobile", variant_params("mobile", target_faces=800, texture_size=512))
    key = image_partition_key(result.content_hash, result.name)
    instance = dg.DagsterInstance.ephemeral()
    assert materialise(instance, store, [key], ["mobile"]).failures == []
    (output,) = catalog.show(engine, result.source_id)["outputs"]
    assert output["status"] == "succeeded" and output["parameters"]["target_faces"] == 800
    assert catalog.find(catalog.get_engine()) == [] and catalog.list_variants(catalog.get_engine()) == []
