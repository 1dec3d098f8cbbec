"""The code location as Dagster loads it: its assets and their lineage, checks, jobs, sensors and resources."""

from __future__ import annotations

import dagster as dg

from orchestration.definitions import defs
from tests.support import heavy_modules_loaded


def test_the_code_location_has_the_five_stages_in_order():
    dg.Definitions.validate_loadable(defs)  # what `dagster dev` checks when it loads the location
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {"source_image", "cleaned_image", "upscaled_image", "mesh", "textured_glb"}
    parents = {key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys} for key in graph.get_all_asset_keys()}
    assert parents == {
        "source_image": set(),
        "cleaned_image": {"source_image"},
        "upscaled_image": {"cleaned_image"},
        "mesh": {"upscaled_image"},
        "textured_glb": {"mesh", "upscaled_image"},
    }
    pools = {key.to_user_string(): graph.get(key).pools for key in graph.get_all_asset_keys()}
    assert pools["mesh"] == pools["textured_glb"] == {"gpu"} and not pools["cleaned_image"]
    # two steps make them, each routed to its Celery queue
    steps = {node.name: node.tags.get("dagster-celery/queue") for node in defs.resolve_job_def("model_stages").nodes}
    steps |= {node.name: node.tags.get("dagster-celery/queue") for node in defs.resolve_job_def("image_stages").nodes}
    assert steps == {"cut_out_and_upscale": "cpu", "shape_and_texture": "gpu"}


def test_checks_jobs_sensors_and_resources():
    graph = defs.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert checks == {("textured_glb", "valid_gltf"), ("textured_glb", "face_budget"), ("textured_glb", "non_empty")}
    assert {job.name for job in defs.jobs} >= {"image_stages", "model_stages"}
    assert {sensor.name for sensor in defs.sensors} == {"inbox_sensor", "variants_sensor", "orphaned_runs_sensor", "remakes_sensor"}
    assert set(defs.resources) == {"catalog", "compute"}
    image_stages = defs.resolve_job_def("image_stages")
    assert isinstance(image_stages.partitions_def, dg.DynamicPartitionsDefinition) and image_stages.partitions_def.name == "images"


def test_loading_the_code_location_and_planning_runs_loads_no_torch_or_trimesh():
    """Dagster's code server and daemon and `convert`'s parent load the definitions and plan runs; only a process
    that runs a step imports torch and trimesh (seconds, and memory each of those processes would hold)."""
    heavy = ("torch", "trimesh", "scipy", "xatlas", "fast_simplification")
    assert heavy_modules_loaded("import orchestration.definitions, orchestration.convert", heavy) == []
