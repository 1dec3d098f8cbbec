"""The image stages, per source image: source_image → cleaned_image → upscaled_image.

Each reads what the stage before it stored, calls one ``inference.pipeline`` stage, stores the views it
made with a manifest of the settings it used (``assets.stored_views``), and reports metadata.
"""

import time

import dagster as dg
import numpy as np
from pydantic import Field

from assets.faults import RETRY, fail_fast_on_bad_input
from assets.partitions import images
from assets.resources import CatalogResource, ComputeResource
from assets.stored_views import StoredViews, load_views, store_views
from catalog.keys import view_key
from inference.images.decode import decode_image, encode_png
from inference.params import GenerationParams, knob_help
from inference.pipeline import clean_views, upscale_views

GROUP = "meshmill"
_DEFAULTS = GenerationParams()


class CleanConfig(dg.Config):
    """cleaned_image's settings: the GenerationParams fields of the cut-out."""

    remove_background: bool = Field(_DEFAULTS.remove_background, description=knob_help("remove_background"))
    background: str = Field(_DEFAULTS.background, description=knob_help("background"))


class UpscaleConfig(dg.Config):
    """upscaled_image's settings: the GenerationParams fields of the upscale."""

    upscale: int = Field(_DEFAULTS.upscale, description=knob_help("upscale"))
    upscaler: str = Field(_DEFAULTS.upscaler, description=knob_help("upscaler"))


@dg.asset(
    partitions_def=images,
    group_name=GROUP,
    kinds={"image"},
    retry_policy=RETRY,
    description="The ingested image as the catalog stores it (8-bit RGB/RGBA PNG).",
)
@fail_fast_on_bad_input
def source_image(context: dg.AssetExecutionContext, catalog: CatalogResource) -> dg.MaterializeResult:
    record = catalog.source(context.partition_key)
    return dg.MaterializeResult(
        metadata={
            "catalog_id": record["id"],
            "filename": record["filename"],
            "width": record["width"],
            "height": record["height"],
            "mode": record["mode"],
            "blob_key": record["blob_key"],
        }
    )


@dg.asset(
    partitions_def=images,
    group_name=GROUP,
    kinds={"image"},
    retry_policy=RETRY,
    deps=[source_image],
    description="The object cut out of its background (alpha kept when meaningful) and cropped.",
)
@fail_fast_on_bad_input
def cleaned_image(context: dg.AssetExecutionContext, config: CleanConfig, catalog: CatalogResource) -> dg.MaterializeResult:
    record, blobs = catalog.source(context.partition_key), catalog.blobs()
    params = GenerationParams.resolve(None, **config.model_dump())  # validates the remover's name
    start = time.perf_counter()
    source = decode_image(blobs.get(record["blob_key"]), record["blob_key"]).image
    cutouts = clean_views({"front": source}, params)
    keys = store_views(
        blobs, "cleaned", record["content_hash"], StoredViews({v: encode_png(c) for v, c in cutouts.items()}, config.model_dump())
    )
    front = cutouts["front"]
    return dg.MaterializeResult(
        metadata={
            "width": front.width,
            "height": front.height,
            "blob_key": keys[0],
            "seconds": time.perf_counter() - start,
            "mask_coverage": float((np.asarray(front.getchannel("A")) > 127).mean()),
            "catalog_id": record["id"],
            **config.model_dump(),
        }
    )


@dg.asset(
    partitions_def=images,
    group_name=GROUP,
    kinds={"image"},
    retry_policy=RETRY,
    deps=[cleaned_image],
    description="The cut-outs upscaled (built-in Lanczos + unsharp, Real-ESRGAN or SD ×4) and framed into one "
    "shared frame: the views mesh and textured_glb read.",
)
@fail_fast_on_bad_input
def upscaled_image(
    context: dg.AssetExecutionContext, config: UpscaleConfig, catalog: CatalogResource, compute: ComputeResource
) -> dg.MaterializeResult:
    record, blobs = catalog.source(context.partition_key), catalog.blobs()
    h = record["content_hash"]
    start = time.perf_counter()
    cleaned = load_views(blobs, "cleaned", h)
    settings = {**cleaned.settings, **config.model_dump()}  # both image stages' settings, for the outputs' record
    params = GenerationParams.resolve(None, **settings)
    views = upscale_views(cleaned.images(), params, compute.torch_device())
    for note in views.warnings:
        context.log.warning(note)
    store_views(blobs, "framed", h, StoredViews(views.to_pngs(), settings, views.warnings))
    size = next(iter(views.images.values())).shape[0]
    return dg.MaterializeResult(
        metadata={
            "width": size,
            "height": size,
            "views": list(views.images),
            "blob_key": view_key("framed", h, "front"),
            "seconds": time.perf_counter() - start,
            "warnings": "; ".join(views.warnings) or "none",
            **settings,
        }
    )


def image_stage_config(params: GenerationParams) -> dict:
    """Run config that makes the image stages cut out and upscale with ``params``' image settings."""
    settings = params.image_settings()
    return {
        "ops": {
            name: {"config": {field: settings[field] for field in config.model_fields}}
            for name, config in (("cleaned_image", CleanConfig), ("upscaled_image", UpscaleConfig))
        }
    }
