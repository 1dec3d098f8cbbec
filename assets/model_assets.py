"""The 3D stages, per source image × variant: mesh → textured_glb, recorded in the catalog as the variant's output.

Both read the framed views ``upscaled_image`` stored, and take their parameters from the variant plus
the settings the image stages stored with those views, so an output records what really made it.
"""

import base64
import io
import os
from dataclasses import dataclass
from typing import Any

import dagster as dg
import trimesh
from sqlalchemy import Engine

from assets.checks import TEXTURED_CHECKS, check_glb
from assets.faults import RETRY, fail_fast_on_bad_input, failure_recorded
from assets.image_assets import GROUP, upscaled_image
from assets.partitions import by_image, image_variants
from assets.resources import CatalogResource, ComputeResource
from assets.stored_views import load_views
from catalog import BlobStore, OutputStatus, finish_attempt, note_shape, running_attempt, start_attempt
from catalog.keys import glb_key, mesh_key, preview_key
from inference.mesh.preview import preview_png
from inference.params import GenerationParams
from inference.pipeline import make_shape, texture_mesh
from inference.views import FramedViews


def web_url() -> str:
    """Where `meshmill serve` answers, for the links from Dagster to each output's page."""
    return os.environ.get("MESHMILL_WEB_URL", "http://127.0.0.1:8787").rstrip("/")


@dataclass
class _Partition:
    """What both 3D stages start from: the image, the variant, the framed views, and the parameters that
    make them — the variant's, with the image-stage settings stored beside the views."""

    record: dict[str, Any]
    variant: str
    variant_id: int
    views: FramedViews
    params: GenerationParams

    @property
    def content_hash(self) -> str:
        return self.record["content_hash"]


def _partition(context: dg.AssetExecutionContext, catalog: CatalogResource, blobs: BlobStore) -> _Partition:
    keys = context.partition_key.keys_by_dimension
    record, variant = catalog.source(keys["image"]), keys["variant"]
    variant_id, variant_params = catalog.variant(variant)
    framed = load_views(blobs, "framed", record["content_hash"])
    return _Partition(record, variant, variant_id, framed.framed(), variant_params.replace(**framed.settings))


@dg.asset(
    partitions_def=image_variants,
    group_name=GROUP,
    kinds={"mesh"},
    pool="gpu",
    retry_policy=RETRY,
    deps=[dg.AssetDep(upscaled_image, partition_mapping=by_image)],
    description="The variant's shape: generated, cleaned and decimated to its face budget (PLY).",
)
@fail_fast_on_bad_input
def mesh(context: dg.AssetExecutionContext, catalog: CatalogResource, compute: ComputeResource) -> dg.MaterializeResult:
    blobs, engine = catalog.blobs(), catalog.engine()
    part = _partition(context, catalog, blobs)
    record, params = part.record, part.params
    run_id = context.run.run_id
    output_id, attempt = start_attempt(engine, record["id"], part.variant_id, parameters=params.model_dump(), dagster_run_id=run_id)
    timings: dict[str, float] = {}
    with failure_recorded(engine, output_id, attempt, "mesh"):
        generator = compute.generator(params.backend)
        shape = make_shape(part.views, params, generator, timings)
        key = mesh_key(part.content_hash, part.variant)
        blobs.put(key, shape.export(file_type="ply"), "application/octet-stream")
        # which model made this shape, and the stage's seconds, shown with the output's stats
        note_shape(engine, output_id, attempt, model_name=generator.name, model_version=generator.version, timings=timings)
    return dg.MaterializeResult(
        metadata={
            "faces": len(shape.faces),
            "vertices": len(shape.vertices),
            "watertight": bool(shape.is_watertight),
            "seconds": sum(timings.values()),
            "blob_key": key,
            "catalog_id": record["id"],
            "output_id": output_id,
            "model": f"{generator.name} {generator.version}",
            "parameters": params.model_dump(),
        }
    )


@dg.asset(
    partitions_def=image_variants,
    group_name=GROUP,
    kinds={"glb"},
    pool="gpu",
    check_specs=TEXTURED_CHECKS,
    retry_policy=RETRY,
    deps=[mesh, dg.AssetDep(upscaled_image, partition_mapping=by_image)],
    description="The textured GLB (and its preview), recorded in the catalog as the variant's output.",
)
@fail_fast_on_bad_input
def textured_glb(context: dg.AssetExecutionContext, catalog: CatalogResource) -> dg.MaterializeResult:
    blobs, engine = catalog.blobs(), catalog.engine()
    part = _partition(context, catalog, blobs)
    record, params, h, variant = part.record, part.params, part.content_hash, part.variant
    output_id, attempt = _open_attempt(engine, record["id"], part.variant_id, params, context.run.run_id)
    timings: dict[str, float] = {}
    with failure_recorded(engine, output_id, attempt, "textured_glb"):
        shape = trimesh.load(io.BytesIO(blobs.get(mesh_key(h, variant))), file_type="ply", process=False)
        stem = f"{record['filename'].rsplit('.', 1)[0]}_{variant}"
        textured = texture_mesh(shape, part.views, params, stem, timings)
        preview = preview_png(textured.mesh)
        blobs.put(glb_key(h, variant), textured.glb, "model/gltf-binary")
        blobs.put(preview_key(h, variant), preview, "image/png")
    faces, vertices = len(textured.mesh.faces), len(textured.mesh.vertices)
    finish_attempt(
        engine,
        output_id,
        attempt,
        status=OutputStatus.succeeded,
        face_count=faces,
        vertex_count=vertices,
        byte_size=len(textured.glb),
        glb_key=glb_key(h, variant),
        preview_key=preview_key(h, variant),
        timings=timings,
    )
    encoded = base64.b64encode(preview).decode()
    return dg.MaterializeResult(
        metadata={
            "faces": faces,
            "vertices": vertices,
            "bytes": len(textured.glb),
            "seconds": sum(timings.values()),
            "texture_coverage": textured.texture_coverage,
            "parameters": params.model_dump(),
            "catalog_id": record["id"],
            "output_id": output_id,
            "attempt": attempt,
            "blob_key": glb_key(h, variant),
            "output_page": dg.MetadataValue.url(f"{web_url()}/outputs/{output_id}"),
            "preview": dg.MetadataValue.md(f"![preview](data:image/png;base64,{encoded})"),
        },
        check_results=check_glb(textured.glb, params.target_faces),
    )


def _open_attempt(engine: Engine, source_id: int, variant_id: int, params: GenerationParams, run_id: str) -> tuple[int, int]:
    """The attempt `mesh` opened in this run, or a new one when textured_glb runs on its own."""
    return running_attempt(engine, source_id, variant_id, run_id) or start_attempt(
        engine, source_id, variant_id, parameters=params.model_dump(), dagster_run_id=run_id
    )
