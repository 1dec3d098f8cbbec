"""Meshmill's Dagster assets, thin, with their partitions, resources and checks beside them.

Two steps make the five assets: ``cut_out_and_upscale`` (source_image, cleaned_image, upscaled_image, per
image) and ``shape_and_texture`` (mesh, textured_glb, per image × variant); each runs the assets a run
selects, for every partition of the run.
"""

from typing import Any

IMAGE_ASSET_KEYS = ["source_image", "cleaned_image", "upscaled_image"]
MODEL_ASSET_KEYS = ["mesh", "textured_glb"]


def __getattr__(name: str) -> Any:
    """``ASSETS`` on first use: the steps import torch and the pipeline (seconds), which a command that only
    needs the partitions (``meshmill catalog check``) should not pay for."""
    if name == "ASSETS":
        from assets.image_assets import cut_out_and_upscale
        from assets.model_assets import shape_and_texture

        return [cut_out_and_upscale, shape_and_texture]
    raise AttributeError(f"module 'assets' has no attribute {name!r}")
