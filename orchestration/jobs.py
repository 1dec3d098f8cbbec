"""The two asset jobs: the sensors, the UI's launchpad and `meshmill convert` run them, each run over one
partition or a range of them."""

import dagster as dg

from assets import IMAGE_ASSET_KEYS, MODEL_ASSET_KEYS

image_job = dg.define_asset_job(
    "image_stages", selection=IMAGE_ASSET_KEYS, description="source_image → cleaned_image → upscaled_image, per image."
)
model_job = dg.define_asset_job("model_stages", selection=MODEL_ASSET_KEYS, description="mesh → textured_glb, per image × variant.")
