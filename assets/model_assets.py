"""The 3D stages, per source object × variant: mesh → textured_glb, recorded in the catalog as the variant's output.

Two assets made by one step, ``shape_and_texture``, which runs the ones a run selects for each partition of
the run (``assets.batch``), on a GPU worker when there is one (the ``gpu`` pool, the ``gpu`` Celery
queue). Both read the framed views ``upscaled_image`` stored, and take their parameters from the
variant plus the settings the image stages stored with those views, so an output records what really
made it. The shape passes from mesh to textured_glb in memory when both run; it is stored as PLY too.
"""

import base64
import functools
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import dagster as dg
import numpy as np
from sqlalchemy import Engine

from assets.batch import Event, each_partition, planned_at, run_id_of
from assets.checks import TEXTURED_CHECKS, glb_check_evaluations
from assets.faults import RETRY, failure_recorded
from assets.image_assets import GROUP, UPSCALED
from assets.partitions import by_image, image_variants
from assets.resources import QUEUE_TAG, CatalogResource, ComputeResource
from assets.stored_views import load_views
from assets.variants import output_params
from catalog import (
    BlobNotFound,
    BlobStore,
    Digest,
    MadeMeanwhile,
    OutputClaimed,
    OutputStatus,
    finish_attempt,
    heartbeat,
    note_shape,
    source_height,
    start_attempt,
)
from catalog.config import web_url
from catalog.keys import (
    dense_mesh_key,
    format_key,
    glb_key,
    mesh_key,
    obj_zip_key,
    painted_mesh_key,
    preview_key,
    split_output_partition_key,
)
from inference.backends import backend_spec
from inference.licences import check_licences, licence_record
from inference.mesh.formats import FORMATS, Finished, check_formats, stored
from inference.params import GenerationParams

if TYPE_CHECKING:  # torch and trimesh are loaded where a step runs, not where runs are planned (convert's parent,
    # Dagster's code server and daemon): the functions below import what they use
    from inference.pipeline import Shape, TexturedMesh

MESH, TEXTURED = dg.AssetKey("mesh"), dg.AssetKey("textured_glb")
_FROM_UPSCALED = dg.AssetDep(UPSCALED, partition_mapping=by_image)
#: seconds between looks at an output another run is making
CLAIM_POLL_S = 1.0


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            MESH,
            deps=[_FROM_UPSCALED],
            group_name=GROUP,
            kinds={"mesh"},
            skippable=True,
            description="The variant's shape: generated, cleaned and decimated to its face budget (PLY).",
        ),
        dg.AssetSpec(
            TEXTURED,
            deps=[MESH, _FROM_UPSCALED],
            group_name=GROUP,
            kinds={"glb"},
            skippable=True,
            description="The textured GLB (and its preview), recorded in the catalog as the variant's output.",
        ),
    ],  # fmt: skip
    check_specs=TEXTURED_CHECKS,
    name="shape_and_texture",
    partitions_def=image_variants,
    can_subset=True,
    retry_policy=RETRY,
    pool="gpu",
    op_tags={QUEUE_TAG: "gpu"},
)
def shape_and_texture(context: dg.AssetExecutionContext, catalog: CatalogResource, compute: ComputeResource) -> Iterator[Event]:
    from inference.pipeline import make_shape, texture_mesh

    blobs, engine, selected = catalog.blobs(), catalog.engine(), context.selected_asset_keys
    checks = {key.name for key in context.selected_asset_check_keys}
    variant_of = functools.cache(catalog.variant)  # a run's partitions share a few variants: one query each
    run_id, since = run_id_of(context), planned_at(context)  # the run's, asked once for all its partitions

    def work(key: str) -> Iterator[Event]:
        image, variant = split_output_partition_key(key)
        record = catalog.source(image)
        h = record["content_hash"]
        variant_id, variant_params = variant_of(variant)
        framed = load_views(blobs, "framed", h)
        params = output_params(variant_params, framed.settings, source_height(engine, record["id"]))
        # every view the object has that the backend can take: a single-view backend makes a view set from its front
        views = framed.framed(backend_spec(params.backend).views)
        used = list(views.images)
        if len(used) < len(framed.pngs):
            context.log.info(f"{catalog.describe_image(key)}: {params.backend} takes the {', '.join(used)} of its {len(framed.pngs)} views")
        claim = claimed(context, engine, (record["id"], variant_id), params, (run_id, since), catalog.describe_image(key))
        if isinstance(claim, MadeMeanwhile):
            yield from made_meanwhile(context, blobs, key, claim, params, record, used, checks)
            return
        output_id, attempt = claim
        timings: dict[str, float] = {}
        textured = kept = None
        with heartbeat(engine, output_id, run_id), failure_recorded(engine, output_id, attempt, "shape_and_texture"):
            check_licences(params)  # a setting changed since convert checked: refused here, by name, before any work
            check_formats(params.formats)  # a format this worker cannot write (no Blender, no usd-core): refused by name, now
            if MESH in selected:
                generator = compute.generator(params.backend, context.log)
                shape = make_shape(views, params, generator, timings)
                for warning in shape.warnings:
                    context.log.warning(f"{catalog.describe_image(key)} ({variant}): {warning}")
                store_shape(blobs, h, variant, shape)
                # which model made this shape, and its seconds, shown with the output's stats
                note_shape(engine, output_id, attempt, model_name=generator.name, model_version=generator.version, timings=timings)
            else:  # re-texturing only: the stored shape, and no model
                shape = stored_shape(blobs, h, variant, params)
            if TEXTURED in selected:
                stem = f"{record['filename'].rsplit('.', 1)[0]}_{variant}"
                textured = texture_mesh(shape, views, params, stem, timings)
                kept = store_output(blobs, h, variant, stem, textured, params)
        common = {"catalog_id": record["id"], "output_id": output_id, "attempt": attempt, "views": used, "parameters": params.model_dump()}
        if MESH in selected:
            metadata = {"seconds": timings["shape"] + timings["cleanup"], "model": f"{generator.name} {generator.version}"}
            metadata["models_loaded_in_worker"] = compute.models_loaded()
            yield dg.AssetMaterialization(MESH, partition=key, metadata={**shape_metadata(shape, h, variant), **metadata, **common})
        if textured is None or kept is None:  # a new shape whose GLB is still to be made
            finish_attempt(
                engine, output_id, attempt, status=OutputStatus.succeeded, output_status=OutputStatus.pending, timings=timings, views=used
            )
            return
        record_output(engine, (output_id, attempt), textured, kept, params, timings, used)
        metadata = output_metadata(textured, kept, output_id, timings)
        yield dg.AssetMaterialization(TEXTURED, partition=key, metadata={**metadata, **common})
        yield from (e for e in glb_check_evaluations(textured.glb, params.target_faces, key) if e.check_name in checks)

    yield from each_partition(context, work, catalog.describe_image)


def claimed(
    context: dg.AssetExecutionContext,
    engine: Engine,
    output: tuple[int, int],
    params: GenerationParams,
    run: tuple[str | None, datetime | None],
    name: str,
) -> tuple[int, int] | MadeMeanwhile:
    """This run's claim on the ``output`` (source id, variant id), as its id and attempt, waited for while another run
    makes it; or, when another run made it after this ``run`` (id, when planned) was planned, with the same
    parameters, what that run made (not made again)."""
    (source_id, variant_id), (run_id, since), holder = output, run, None
    while True:
        try:
            return start_attempt(engine, source_id, variant_id, parameters=params.model_dump(), dagster_run_id=run_id, made_since=since)
        except MadeMeanwhile as made:
            return made
        except OutputClaimed as busy:
            if busy.run_id != holder:
                context.log.info(f"{name}: run {busy.run_id} is making this output now; waiting for it")
                holder = busy.run_id
            time.sleep(CLAIM_POLL_S)


def made_meanwhile(
    context: dg.AssetExecutionContext, blobs: BlobStore, key: str, made: MadeMeanwhile, params: GenerationParams,
    record: dict, views: list[str], checks: set[str],
) -> Iterator[Event]:  # fmt: skip
    """The partition as the run that made it meanwhile left it: materialised in this run too, pointing at the same
    output (nothing is written), with its GLB's checks."""
    h, variant = record["content_hash"], split_output_partition_key(key)[1]
    context.log.info(f"{key}: made meanwhile by run {made.run_id}, with the same parameters: not made again")
    common = {"catalog_id": record["id"], "output_id": made.output_id, "views": views, "made_by_run": made.run_id or ""}
    if MESH in context.selected_asset_keys:
        yield dg.AssetMaterialization(MESH, partition=key, metadata={"blob_key": mesh_key(h, variant), **common})
    if TEXTURED in context.selected_asset_keys:
        yield dg.AssetMaterialization(TEXTURED, partition=key, metadata={"blob_key": glb_key(h, variant), **common})
        glb = blobs.get(glb_key(h, variant))
        yield from (e for e in glb_check_evaluations(glb, params.target_faces, key) if e.check_name in checks)


def shape_ply(shape: "Shape") -> bytes:
    """The budget mesh as PLY, with each face's ``polygon`` where quad retopology made it."""
    if shape.polygon is None:
        return shape.mesh.export(file_type="ply")
    mesh = shape.mesh.copy()
    mesh.face_attributes["polygon"] = shape.polygon
    return mesh.export(file_type="ply", include_attributes=True)


def store_shape(blobs: BlobStore, content_hash: str, variant: str, shape: "Shape") -> None:
    """The shape's blobs: the budget mesh (PLY), and the dense and the backend's textured surfaces where it has them
    (what re-texturing without the model reads back, ``stored_shape``)."""
    if shape.dense is not None:
        blobs.put(dense_mesh_key(content_hash, variant), shape.dense.export(file_type="ply"), "application/octet-stream")
    if shape.painted is not None:
        blobs.put(painted_mesh_key(content_hash, variant), shape.painted.export(file_type="glb"), "model/gltf-binary")
    blobs.put(mesh_key(content_hash, variant), shape_ply(shape), "application/octet-stream")


@dataclass(frozen=True)
class StoredOutput:
    """What ``store_output`` wrote for an output."""

    glb_key: str
    preview_key: str
    preview: bytes
    obj_key: str | None  # the OBJ kept beside the GLB (quads, levels of detail), if any
    format_keys: dict[str, str]  # the further formats the variant asks for, by name
    digests: dict[str, Digest]  # what each file held, for `catalog check`


def store_output(
    blobs: BlobStore, content_hash: str, variant: str, stem: str, textured: "TexturedMesh", params: GenerationParams
) -> StoredOutput:
    """The output's files in the blob store: the GLB, its preview, the OBJ where the GLB cannot give it back (quads,
    levels of detail), and every further format ``params.formats`` asks for."""
    from inference.mesh.export import obj_zip
    from inference.mesh.preview import preview_png

    digests: dict[str, Digest] = {}

    def put(key: str, data: bytes, mime: str) -> str:
        blobs.put(key, data, mime)
        digests[key] = Digest.of(data)
        return key

    preview = preview_png(textured.mesh)
    glb = put(glb_key(content_hash, variant), textured.glb, "model/gltf-binary")
    png = put(preview_key(content_hash, variant), preview, "image/png")
    obj = None
    if textured.polygon is not None or textured.lods:  # quads and further levels are in no OBJ made from the GLB
        obj = put(obj_zip_key(content_hash, variant), obj_zip(textured.mesh, stem, textured.lods, textured.polygon), "application/zip")
    finished = Finished(textured.mesh, textured.glb, textured.lods, textured.polygon)
    format_keys = {}
    for name in params.formats[1:]:  # the GLB is above
        data, suffix, mime = stored(FORMATS[name], finished, stem)
        format_keys[name] = put(format_key(content_hash, variant, name, suffix), data, mime)
    return StoredOutput(glb, png, preview, obj, format_keys, digests)


def record_output(
    engine: Engine, attempt: tuple[int, int], textured: "TexturedMesh", kept: StoredOutput, params: GenerationParams,
    timings: dict[str, float], views: list[str],
) -> None:  # fmt: skip
    """The attempt (output id, attempt) succeeded: the catalog records the output's files, stats and licences."""
    from inference.mesh.remesh import quad_count

    output_id, number = attempt
    finish_attempt(
        engine, output_id, number, status=OutputStatus.succeeded, face_count=len(textured.mesh.faces),
        vertex_count=len(textured.mesh.vertices), byte_size=len(textured.glb), glb_key=kept.glb_key,
        preview_key=kept.preview_key, timings=timings, licences=licence_record(params), views=views, obj_key=kept.obj_key,
        lod_face_counts=[len(level.faces) for level in textured.lods] or None, format_keys=kept.format_keys or None,
        quad_count=None if textured.polygon is None else quad_count(textured.polygon), digests=kept.digests,
    )  # fmt: skip


def shape_metadata(shape: "Shape", content_hash: str, variant: str) -> dict[str, object]:
    """The ``mesh`` materialisation's own metadata."""
    mesh = shape.mesh
    faces, vertices, watertight = len(mesh.faces), len(mesh.vertices), bool(mesh.is_watertight)
    return {"faces": faces, "vertices": vertices, "watertight": watertight, "blob_key": mesh_key(content_hash, variant)}


def output_metadata(textured: "TexturedMesh", kept: StoredOutput, output_id: int, timings: dict[str, float]) -> dict[str, object]:
    """The ``textured_glb`` materialisation's own metadata: stats, the web app's page, the preview inline."""
    encoded = base64.b64encode(kept.preview).decode()
    return {
        "faces": len(textured.mesh.faces),
        "vertices": len(textured.mesh.vertices),
        "bytes": len(textured.glb),
        "seconds": sum(timings.values()),
        "texture_coverage": textured.texture_coverage,
        "blob_key": kept.glb_key,
        "output_page": dg.MetadataValue.url(f"{web_url()}/outputs/{output_id}"),
        "preview": dg.MetadataValue.md(f"![preview](data:image/png;base64,{encoded})"),
    }


def stored_shape(blobs: BlobStore, content_hash: str, variant: str, params: GenerationParams) -> "Shape":
    """The shape ``mesh`` stored, for re-texturing without the model; with the dense surface a normal map needs and
    the backend's textured surface a variant whose texture comes from the backend needs."""
    import trimesh

    from inference.pipeline import Shape

    def load(key: str, file_type: str = "ply") -> trimesh.Trimesh:
        return trimesh.load(io.BytesIO(blobs.get(key)), file_type=file_type, process=False, force="mesh")

    def kept(key: str, what: str, file_type: str = "ply") -> trimesh.Trimesh:
        try:
            return load(key, file_type)
        except BlobNotFound:
            raise ValueError(
                f"this variant needs {what}, which was not kept when its mesh was made: materialise mesh and textured_glb together"
            ) from None

    painted = None
    if params.texture_source == "backend":
        painted = kept(painted_mesh_key(content_hash, variant), "the backend's textured surface", "glb")
    dense = None
    if params.normal_map and painted is None:
        dense = kept(dense_mesh_key(content_hash, variant), "the dense surface to bake its normal map from")
    mesh = load(mesh_key(content_hash, variant))
    faces = mesh.metadata.get("_ply_raw", {}).get("face", {}).get("data")
    polygon = faces["polygon"].astype(np.int64) if faces is not None and "polygon" in (faces.dtype.names or ()) else None
    return Shape(mesh, dense, polygon=polygon, painted=painted)
