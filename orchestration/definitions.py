"""The Dagster code location: assets, checks, jobs, sensors and the resources they share."""

import dagster as dg

from assets import ASSETS
from assets.resources import CatalogResource, ComputeResource
from orchestration.jobs import image_job, model_job
from orchestration.sensors import inbox_sensor, variants_sensor

RESOURCES = {"catalog": CatalogResource(), "compute": ComputeResource()}

defs = dg.Definitions(assets=ASSETS, jobs=[image_job, model_job], sensors=[inbox_sensor, variants_sensor], resources=RESOURCES)
