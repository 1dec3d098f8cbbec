"""Asset jobs the sensors (and the UI's launchpad) run; their partitions follow from the assets they select."""

import dagster as dg

image_job = dg.define_asset_job(
    "image_stages",
    selection=["source_image", "cleaned_image", "upscaled_image"],
    description="source_image → cleaned_image → upscaled_image for one image.",
)
model_job = dg.define_asset_job(
    "model_stages",
    selection=["mesh", "textured_glb"],
    description="mesh → textured_glb for one image × variant.",
)
