"""The Dagster code location: assets, checks, jobs, sensors, the resources they share, and the executor.

Steps run in the run's own process by default; with ``$MESHMILL_CELERY_BROKER`` set, on Celery workers
(``orchestration.celery_config``), wherever the run was launched from: the UI, a sensor or `convert`.
"""

import dagster as dg
from dagster_celery import celery_executor

from assets import ASSETS
from assets.resources import CatalogResource, ComputeResource
from orchestration.celery_config import broker_url, executor_config
from orchestration.jobs import image_job, model_job
from orchestration.sensors import inbox_sensor, orphaned_runs_sensor, remakes_sensor, variants_sensor

RESOURCES = {"catalog": CatalogResource(), "compute": ComputeResource()}


def executor() -> dg.ExecutorDefinition:
    return celery_executor.configured(executor_config()) if broker_url() else dg.in_process_executor


defs = dg.Definitions(
    assets=ASSETS,
    jobs=[image_job, model_job],
    sensors=[inbox_sensor, variants_sensor, orphaned_runs_sensor, remakes_sensor],
    resources=RESOURCES,
    executor=executor(),
)


def image_stages_job() -> dg.JobDefinition:
    """The image stages job, as a function Dagster can find again in another process (a Celery worker)."""
    return defs.resolve_job_def("image_stages")


def model_stages_job() -> dg.JobDefinition:
    return defs.resolve_job_def("model_stages")
