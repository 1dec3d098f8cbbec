"""The five stages as Dagster assets: source_image → cleaned_image → upscaled_image → mesh → textured_glb.

Each reads its upstream blob, calls one inference function, writes its blob, and reports metadata.
Image stages are partitioned per source image; the 3D stages per image × variant.
"""


import base64
import functools
import io
import os
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import dagster as dg
import numpy as np
import trimesh
from PIL import Image

from assets.checks import check_glb
from catalog import BlobNotFound, CatalogError, OutputStatus, finish_attempt, note_stage_timings, running_attempt, start_attempt
from inference.cleanup import MeshError
from inference.generators import EmptySurface
from inference.images import ImageError, decode_image, encode_png
from inference.params import GenerationParams, ParameterError
from inference.pipeline import cut_out, frame_size, make_shape, texture_mesh
from inference.preview import preview_png
from inference.upscale import upscale_image
from inference.views import ViewError, frame_views
from inference.weights import PackageMissing, WeightsMissing
from orchestration.partitions import by_image, image_variants, images
from orchestration.resources import CatalogResource, ComputeResource

GROUP = "meshmill"
#: transient faults (database, S3, network, a model server) are retried; bad input and a missing model are not
RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL)
BAD_INPUT = (ImageError, ViewError, MeshError, ParameterError, CatalogError, BlobNotFound, WeightsMissing, PackageMissing, EmptySurface)


def fail_fast_on_bad_input(fn):  # noqa: ANN001, ANN201
    """Bad input fails the partition at once with its message; anything else may be retried."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            return fn(*args, **kwargs)
        except BAD_INPUT as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc

    return wrapper


class CleanConfig(dg.Config):
    background: str = "builtin"  # builtin, or a rembg model whose ONNX file is in the models folder


class UpscaleConfig(dg.Config):
    factor: int = 2  # 1, 2 or 4, before texturing
    upscaler: str = "builtin"  # builtin, realesrgan-x4, realesrgan-x2, realesrgan-anime-x4, sd-x4


def web_url() -> str:
    """Where `meshmill serve` answers, for the links from Dagster to each output's page."""
    return os.environ.get("MESHMILL_WEB_URL", "http://127.0.0.1:8787").rstrip("/")


def _image(blobs, key: str) -> Image.Image:  # noqa: ANN001
    return decode_image(blobs.get(key), key).image


def _image_stage(blobs, read_key: str, write_key: str, make: Callable[[Image.Image], Image.Image]) -> tuple[Image.Image, dict]:  # noqa: ANN001
    """An image stage's work: read one image blob, make the next image from it, store that as PNG.
    Returns the new image and the metadata every image stage reports."""
    start = time.perf_counter()
    image = make(_image(blobs, read_key))
    blobs.put(write_key, encode_png(image), "image/png")
    return image, {"width": image.width, "height": image.height, "blob_key": write_key, "seconds": time.perf_counter() - start}


# Where each stage keeps its blob, by the source image's content hash (and the variant).
def cleaned_key(record: dict) -> str:
    return f"cleaned/{record['content_hash']}.png"


def upscaled_key(record: dict) -> str:
    return f"upscaled/{record['content_hash']}.png"


def _mesh_key(record: dict, variant: str) -> str:
    return f"meshes/{record['content_hash']}/{variant}.ply"


def _output_key(record: dict, variant: str, name: str) -> str:
    return f"outputs/{record['content_hash']}/{variant}/{name}"


@contextmanager
def _failure_recorded(engine, output_id: int, attempt: int, stage: str) -> Iterator[None]:  # noqa: ANN001
    """Close the attempt as failed, with the error, if the stage raises; then let the error go on."""
    try:
        yield
    except Exception as exc:
        finish_attempt(engine, output_id, attempt, status=OutputStatus.failed, error=f"{stage}: {exc}")
        raise


def _split(context: dg.AssetExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension
    return keys["image"], keys["variant"]


@dg.asset(
    partitions_def=images, group_name=GROUP, kinds={"image"}, retry_policy=RETRY,
    description="The ingested image as the catalog stores it (8-bit RGB/RGBA PNG).",
)  # fmt: skip
@fail_fast_on_bad_input
def source_image(context: dg.AssetExecutionContext, catalog: CatalogResource) -> dg.MaterializeResult:
    record = catalog.source(context.partition_key)
    return dg.MaterializeResult(
        metadata={
            "catalog_id": record["id"], "filename": record["filename"], "width": record["width"],
            "height": record["height"], "mode": record["mode"], "blob_key": record["blob_key"],
        }
    )  # fmt: skip


@dg.asset(
    partitions_def=images, group_name=GROUP, kinds={"image"}, retry_policy=RETRY, deps=[source_image],
    description="The object cut out of its background (alpha kept when meaningful) and cropped.",
)  # fmt: skip
@fail_fast_on_bad_input
def cleaned_image(context: dg.AssetExecutionContext, config: CleanConfig, catalog: CatalogResource) -> dg.MaterializeResult:
    record, blobs = catalog.source(context.partition_key), catalog.blobs()
    params = GenerationParams.resolve(None, background=config.background)
    cut, metadata = _image_stage(blobs, record["blob_key"], cleaned_key(record), lambda image: cut_out(image, "front", params))
    coverage = float((np.asarray(cut.getchannel("A")) > 127).mean())
    return dg.MaterializeResult(metadata={**metadata, "mask_coverage": coverage, "remover": config.background, "catalog_id": record["id"]})


@dg.asset(
    partitions_def=images, group_name=GROUP, kinds={"image"}, retry_policy=RETRY, deps=[cleaned_image],
    description="The cut-out upscaled for texturing (built-in Lanczos + unsharp, Real-ESRGAN or SD ×4).",
)  # fmt: skip
@fail_fast_on_bad_input
def upscaled_image(
    context: dg.AssetExecutionContext, config: UpscaleConfig, catalog: CatalogResource, compute: ComputeResource
) -> dg.MaterializeResult:
    record, blobs = catalog.source(context.partition_key), catalog.blobs()
    params = GenerationParams.resolve(None, upscale=config.factor, upscaler=config.upscaler)  # validates both
    device = compute.torch_device()
    _, metadata = _image_stage(blobs, cleaned_key(record), upscaled_key(record),
                               lambda image: upscale_image(image, params.upscale, params.upscaler, device))  # fmt: skip
    return dg.MaterializeResult(metadata={**metadata, "factor": config.factor, "upscaler": config.upscaler})


def _framed(blobs, record: dict):  # noqa: ANN001, ANN202
    image = _image(blobs, upscaled_key(record))
    return frame_views({"front": image}, frame_size({"front": image}, 1))


@dg.asset(
    partitions_def=image_variants, group_name=GROUP, kinds={"mesh"}, pool="gpu", retry_policy=RETRY,
    deps=[dg.AssetDep(upscaled_image, partition_mapping=by_image)],
    description="The variant's shape: generated, cleaned and decimated to its face budget (PLY).",
)  # fmt: skip
@fail_fast_on_bad_input
def mesh(context: dg.AssetExecutionContext, catalog: CatalogResource, compute: ComputeResource) -> dg.MaterializeResult:
    image_key, variant = _split(context)
    record, blobs, engine = catalog.source(image_key), catalog.blobs(), catalog.engine()
    variant_id, params = catalog.variant(variant)
    output_id, attempt = start_attempt(engine, record["id"], variant_id, parameters=params.model_dump(), dagster_run_id=context.run.run_id)
    timings: dict[str, float] = {}
    with _failure_recorded(engine, output_id, attempt, "mesh"):
        shape = make_shape(_framed(blobs, record), params, compute.generator(params.backend), timings)
        key = _mesh_key(record, variant)
        blobs.put(key, shape.export(file_type="ply"), "application/octet-stream")
    note_stage_timings(engine, output_id, attempt, timings)  # shape and cleanup, shown with the output's stats
    return dg.MaterializeResult(
        metadata={"faces": len(shape.faces), "vertices": len(shape.vertices), "watertight": bool(shape.is_watertight),
                  "seconds": sum(timings.values()), "blob_key": key, "catalog_id": record["id"], "output_id": output_id,
                  "parameters": params.model_dump()}
    )  # fmt: skip


TEXTURED_CHECKS = [
    dg.AssetCheckSpec("valid_gltf", asset="textured_glb", description="Loads as glTF with UVs, a base-colour texture and unit normals."),
    dg.AssetCheckSpec("face_budget", asset="textured_glb", description="Face count within ±5 % of the variant's target."),
    dg.AssetCheckSpec("non_empty", asset="textured_glb", description="The mesh has faces and vertices."),
]


@dg.asset(
    partitions_def=image_variants, group_name=GROUP, kinds={"glb"}, pool="gpu", check_specs=TEXTURED_CHECKS,
    retry_policy=RETRY,
    deps=[mesh, dg.AssetDep(upscaled_image, partition_mapping=by_image)],
    description="The textured GLB (and its preview), recorded in the catalog as the variant's output.",
)  # fmt: skip
@fail_fast_on_bad_input
def textured_glb(context: dg.AssetExecutionContext, catalog: CatalogResource, compute: ComputeResource) -> dg.MaterializeResult:
    image_key, variant = _split(context)
    record, blobs, engine = catalog.source(image_key), catalog.blobs(), catalog.engine()
    variant_id, params = catalog.variant(variant)
    output_id, attempt = _open_attempt(engine, record["id"], variant_id, params, context.run.run_id)
    glb_key, preview_key = _output_key(record, variant, "model.glb"), _output_key(record, variant, "preview.png")
    timings: dict[str, float] = {}
    with _failure_recorded(engine, output_id, attempt, "textured_glb"):
        shape = trimesh.load(io.BytesIO(blobs.get(_mesh_key(record, variant))), file_type="ply", process=False)
        stem = f"{record['filename'].rsplit('.', 1)[0]}_{variant}"
        textured, glb, coverage = texture_mesh(shape, _framed(blobs, record), params, stem, timings)
        preview = preview_png(textured)
        blobs.put(glb_key, glb, "model/gltf-binary")
        blobs.put(preview_key, preview, "image/png")
    checks = check_glb(glb, params.target_faces)
    finish_attempt(
        engine, output_id, attempt, status=OutputStatus.succeeded, face_count=len(textured.faces),
        vertex_count=len(textured.vertices), byte_size=len(glb), glb_key=glb_key, preview_key=preview_key,
        model_name=params.backend, model_version=compute.generator(params.backend).version, timings=timings,
    )  # fmt: skip
    encoded = base64.b64encode(preview).decode()
    return dg.MaterializeResult(
        metadata={
            "faces": len(textured.faces), "vertices": len(textured.vertices), "bytes": len(glb),
            "seconds": sum(timings.values()), "texture_coverage": coverage, "parameters": params.model_dump(),
            "catalog_id": record["id"], "output_id": output_id, "attempt": attempt, "blob_key": glb_key,
            "output_page": dg.MetadataValue.url(f"{web_url()}/outputs/{output_id}"),
            "preview": dg.MetadataValue.md(f"![preview](data:image/png;base64,{encoded})"),
        },
        check_results=checks,
    )  # fmt: skip


def _open_attempt(engine, source_id: int, variant_id: int, params: GenerationParams, run_id: str) -> tuple[int, int]:  # noqa: ANN001
    """The attempt `mesh` opened in this run, or a new one when textured_glb runs on its own."""
    return running_attempt(engine, source_id, variant_id, run_id) or start_attempt(
        engine, source_id, variant_id, parameters=params.model_dump(), dagster_run_id=run_id
    )
