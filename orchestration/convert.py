"""Batch conversion through Dagster: ingest, add partitions, materialise, report.

Every image's stages and every image × variant's 3D stages are Dagster runs against the persistent
instance in ``$DAGSTER_HOME``, so the UI shows them. They run in this one process, one after the
other, so each model is loaded once for the whole batch (ComputeResource keeps it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from assets import IMAGE_ASSETS, MODEL_ASSETS
from assets.image_assets import image_stage_config
from assets.partitions import images, variants
from catalog import OutputStatus, finish_attempt, start_attempt
from catalog.config import meshmill_home
from catalog.keys import image_partition_key
from inference.params import GenerationParams
from orchestration.definitions import RESOURCES

REPO_ROOT = Path(__file__).resolve().parents[1]


def dagster_instance() -> dg.DagsterInstance:
    """The persistent instance: ``$DAGSTER_HOME``, default ``$MESHMILL_HOME/dagster`` with our dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or meshmill_home() / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and (REPO_ROOT / "dagster.yaml").exists():
        shutil.copyfile(REPO_ROOT / "dagster.yaml", config)
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


@dataclass
class PartitionOutcome:
    image: str
    variant: str | None  # None: the image stages
    success: bool
    run_id: str
    error: str = ""


@dataclass
class ConvertReport:
    outcomes: list[PartitionOutcome] = field(default_factory=list)

    @property
    def failures(self) -> list[PartitionOutcome]:
        return [o for o in self.outcomes if not o.success]


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            while error is not None and error.cause is not None and "Error occurred while executing" in error.message:
                error = error.cause
            return f"{event.step_key}: {(error.message if error else 'failed').strip()}"
    return "run failed"


def materialise(
    instance: dg.DagsterInstance,
    image_keys: Iterable[str],
    variant_names: Iterable[str],
    *,
    image_params: GenerationParams | None = None,
    on_progress: Callable[[PartitionOutcome], None] | None = None,
) -> ConvertReport:
    """Run the image stages of each image (cut out and upscaled with ``image_params``' image settings, default the
    GenerationParams defaults), then the 3D stages of each image × variant."""
    image_keys, variant_names = list(image_keys), list(variant_names)
    image_params = image_params or GenerationParams()
    instance.add_dynamic_partitions(images.name, image_keys)
    instance.add_dynamic_partitions(variants.name, variant_names)
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}  # the UI keeps every event
    run_config = {**image_stage_config(image_params), **quiet}
    report = ConvertReport()

    def record(outcome: PartitionOutcome) -> None:
        report.outcomes.append(outcome)
        if on_progress:
            on_progress(outcome)

    for key in image_keys:
        result = dg.materialize(
            IMAGE_ASSETS,
            partition_key=key,
            instance=instance,
            resources=RESOURCES,
            run_config=run_config,
            raise_on_error=False,
            tags={"meshmill/image": key},
        )
        record(PartitionOutcome(key, None, result.success, result.run_id, "" if result.success else _failure_message(result)))
        for variant in variant_names:
            if not result.success:
                error = _failure_message(result)
                _record_failed_output(key, variant, image_params, result.run_id, f"image stages failed: {error}")
                record(PartitionOutcome(key, variant, False, result.run_id, "skipped: the image stages failed"))
                continue
            partition = dg.MultiPartitionKey({"image": key, "variant": variant})
            model = dg.materialize(
                [*IMAGE_ASSETS, *MODEL_ASSETS],
                selection=MODEL_ASSETS,
                partition_key=partition,
                instance=instance,
                resources=RESOURCES,
                raise_on_error=False,
                run_config=quiet,
                tags={"meshmill/image": key, "meshmill/variant": variant},
            )
            record(PartitionOutcome(key, variant, model.success, model.run_id, "" if model.success else _failure_message(model)))
    return report


def _record_failed_output(key: str, variant: str, image_params: GenerationParams, run_id: str, error: str) -> None:
    """The catalog shows the output as failed, with why, even though its own stages never ran."""
    catalog_resource = RESOURCES["catalog"]
    source = catalog_resource.source(key)
    variant_id, params = catalog_resource.variant(variant)
    params = params.replace(**image_params.image_settings())
    engine = catalog_resource.engine()
    output_id, attempt = start_attempt(engine, source["id"], variant_id, parameters=params.model_dump(), dagster_run_id=run_id)
    finish_attempt(engine, output_id, attempt, status=OutputStatus.failed, error=error)


def keys_for(content_hashes: Iterable[str]) -> list[str]:
    return sorted({image_partition_key(h) for h in content_hashes})
