"""Meshmill's Dagster assets, thin, with their partitions, resources and checks beside them."""

from assets.image_assets import cleaned_image, source_image, upscaled_image
from assets.model_assets import mesh, textured_glb

IMAGE_ASSETS = [source_image, cleaned_image, upscaled_image]
MODEL_ASSETS = [mesh, textured_glb]
ASSETS = [*IMAGE_ASSETS, *MODEL_ASSETS]
