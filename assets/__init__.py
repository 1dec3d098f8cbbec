"""Meshmill's Dagster assets, thin, with their partitions, resources and checks beside them.

Two steps make the five assets: ``cut_out_and_upscale`` (source_image, cleaned_image, upscaled_image, per
image) and ``shape_and_texture`` (mesh, textured_glb, per image × variant); each runs the assets a run
selects, for every partition of the run.
"""

from assets.image_assets import cut_out_and_upscale
from assets.model_assets import shape_and_texture

ASSETS = [cut_out_and_upscale, shape_and_texture]
IMAGE_ASSET_KEYS = ["source_image", "cleaned_image", "upscaled_image"]
MODEL_ASSET_KEYS = ["mesh", "textured_glb"]
