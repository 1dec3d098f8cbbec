"""The Dagster code location: assets, checks, resources."""

import dagster as dg

from assets.stages import cleaned_image, mesh, source_image, textured_glb, upscaled_image
from orchestration.resources import CatalogResource, ComputeResource

IMAGE_ASSETS = [source_image, cleaned_image, upscaled_image]
MODEL_ASSETS = [mesh, textured_glb]
RESOURCES = {"catalog": CatalogResource(), "compute": ComputeResource()}

defs = dg.Definitions(assets=[*IMAGE_ASSETS, *MODEL_ASSETS], resources=RESOURCES)
