"""Asset jobs the sensors (and the UI's launchpad) run: image stages per image, 3D stages per image × variant."""

import dagster as dg

from orchestration.partitions import image_variants, images

image_job = dg.define_asset_job(
    "image_stages", selection=["source_image", "cleaned_image", "upscaled_image"], partitions_def=images,
    description="source_image → cleaned_image → upscaled_image for one image.",
)  # fmt: skip
model_job = dg.define_asset_job(
    "model_stages", selection=["mesh", "textured_glb"], partitions_def=image_variants,
    description="mesh → textured_glb for one image × variant.",
)  # fmt: skip
