"""The Dagster code location: assets, checks, resources."""

import dagster as dg

from assets.stages import cleaned_image, mesh, source_image, textured_glb, upscaled_image
from orchestration.jobs import image_job, model_job
from orchestration.resources import CatalogResource, ComputeResource
from orchestration.sensors import inbox_sensor, variants_sensor

IMAGE_ASSETS = [source_image, cleaned_image, upscaled_image]
MODEL_ASSETS = [mesh, textured_glb]
RESOURCES = {"catalog": CatalogResource(), "compute": ComputeResource()}


defs = dg.Definitions(
    assets=[*IMAGE_ASSETS, *MODEL_ASSETS], jobs=[image_job, model_job], sensors=[inbox_sensor, variants_sensor], resources=RESOURCES
)
