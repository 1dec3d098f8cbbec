"""The image stages, per source object: source_image → cleaned_image → upscaled_image, each over every view of it.

Three assets made by one step, ``cut_out_and_upscale``, which runs the ones a run selects for each image of
the run (``assets.batch``): each reads what the stage before it made (from memory when both run, else
from its stored views), calls one ``inference.pipeline`` stage, stores the views it made with a
manifest of the settings it used (``assets.stored_views``), and reports metadata per image.
"""

import time
from collections.abc import Iterator

import dagster as dg
import numpy as np
from pydantic import Field

from assets.batch import Event, each_partition
from assets.faults import RETRY
from assets.partitions import images
from assets.resources import QUEUE_TAG, CatalogResource, ComputeResource
from assets.stored_views import StoredViews, load_views, store_views
from catalog.keys import view_key
from inference.images.decode import decode_image, encode_png
from inference.params import GenerationParams, knob_help

GROUP = "meshmill"
SOURCE, CLEANED, UPSCALED = dg.AssetKey("source_image"), dg.AssetKey("cleaned_image"), dg.AssetKey("upscaled_image")
_DEFAULTS = GenerationParams()
CLEAN_FIELDS = ("remove_background", "background")


class ImageStagesConfig(dg.Config):
    """The image stages' settings: the GenerationParams fields of the cut-out and of the upscale. A run of
    upscaled_image alone cuts nothing out: it takes the cut-out's settings from the stored cut-outs."""

    remove_background: bool = Field(_DEFAULTS.remove_background, description=knob_help("remove_background"))
    background: str = Field(_DEFAULTS.background, description=knob_help("background"))
    upscale: int = Field(_DEFAULTS.upscale, description=knob_help("upscale"))
    upscaler: str = Field(_DEFAULTS.upscaler, description=knob_help("upscaler"))


def _spec(key: dg.AssetKey, deps: list[dg.AssetKey], description: str) -> dg.AssetSpec:
    return dg.AssetSpec(key, deps=deps, group_name=GROUP, kinds={"image"}, description=description, skippable=True)


@dg.multi_asset(
    specs=[
        _spec(SOURCE, [], "The ingested image as the catalog stores it (8-bit RGB/RGBA PNG)."),
        _spec(CLEANED, [SOURCE], "The object cut out of its background (alpha kept when meaningful) and cropped."),
        _spec(
            UPSCALED,
            [CLEANED],
            "The cut-outs upscaled (built-in Lanczos + unsharp, Real-ESRGAN or SD ×4) and framed into one shared frame: "
            "the views mesh and textured_glb read.",
        ),
    ],
    name="cut_out_and_upscale",
    partitions_def=images,
    can_subset=True,
    retry_policy=RETRY,
    op_tags={QUEUE_TAG: "cpu"},
)
def cut_out_and_upscale(
    context: dg.AssetExecutionContext, config: ImageStagesConfig, catalog: CatalogResource, compute: ComputeResource
) -> Iterator[Event]:
    from inference.pipeline import clean_views, upscale_views  # torch: loaded where a step runs, not where runs are planned

    blobs, selected = catalog.blobs(), context.selected_asset_keys
    params = GenerationParams.resolve(None, **config.model_dump())  # validates the remover's and upscaler's names

    def work(key: str) -> Iterator[Event]:
        record = catalog.source(key)
        h, start = record["content_hash"], time.perf_counter()
        if SOURCE in selected:
            fields = ("filename", "width", "height", "mode", "blob_key")
            views = [v["view"] for v in record["views"]]
            metadata = {"catalog_id": record["id"], **{f: record[f] for f in fields}, "views": views}
            yield dg.AssetMaterialization(SOURCE, partition=key, metadata=metadata)
        cleaned, cutouts = None, None
        if CLEANED in selected:  # every view of the object, each cut out
            sources = {v["view"]: decode_image(blobs.get(v["blob_key"]), f"{v['view']} view").image for v in record["views"]}
            cutouts = clean_views(sources, params)
            settings = {name: getattr(params, name) for name in CLEAN_FIELDS}
            cleaned = StoredViews({view: encode_png(cut) for view, cut in cutouts.items()}, settings)
            keys = store_views(blobs, "cleaned", h, cleaned)
            front = cutouts["front"]
            yield dg.AssetMaterialization(
                CLEANED,
                partition=key,
                metadata={
                    "width": front.width,
                    "height": front.height,
                    "views": list(cutouts),
                    "blob_key": keys[0],
                    "seconds": time.perf_counter() - start,
                    "mask_coverage": float((np.asarray(front.getchannel("A")) > 127).mean()),
                    "catalog_id": record["id"],
                    **settings,
                },
            )
        if UPSCALED in selected:
            start = time.perf_counter()
            cleaned = cleaned or load_views(blobs, "cleaned", h)
            settings = {**cleaned.settings, "upscale": params.upscale, "upscaler": params.upscaler}  # what the outputs record
            views = upscale_views(cutouts or cleaned.images(), params.replace(**settings), compute.torch_device())
            for note in views.warnings:
                context.log.warning(f"{record['filename']}: {note}")
            store_views(blobs, "framed", h, StoredViews(views.to_pngs(), settings, views.warnings))
            size = next(iter(views.images.values())).shape[0]
            yield dg.AssetMaterialization(
                UPSCALED,
                partition=key,
                metadata={
                    "width": size,
                    "height": size,
                    "views": list(views.images),
                    "blob_key": view_key("framed", h, "front"),
                    "seconds": time.perf_counter() - start,
                    "warnings": "; ".join(views.warnings) or "none",
                    **settings,
                },
            )

    yield from each_partition(context, work, catalog.describe_image)


def image_stage_config(params: GenerationParams) -> dict:
    """Run config that makes the image stages cut out and upscale with ``params``' image settings."""
    settings = params.image_settings()
    return {"ops": {"cut_out_and_upscale": {"config": {field: settings[field] for field in ImageStagesConfig.model_fields}}}}
