"""Downloads, reached by catalog id only (a URL never names a blob key or a path): an output in any format it was
written as, its OBJ zip and preview, a search's outputs as one zip, the source views and their image stages."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

import catalog
from catalog import LabelError
from catalog.keys import view_key
from inference.mesh.export import glb_mesh, obj_zip
from inference.mesh.formats import FORMATS, FormatError, check_formats, format_names, stored_suffix
from orchestration.exports import exported_files, write_export
from orchestration.web.state import CatalogId, Site, content_disposition, damaged, not_found, split_tags

router = APIRouter(prefix="/files")


@router.api_route("/outputs/{output_id}/model.{name}", methods=["GET", "HEAD"])
def file_model(site: Site, output_id: CatalogId, name: str) -> Response:
    """The output in any format it was written as: the GLB, or one its variant asks for (``formats``)."""
    files, stem = site.output_file(output_id)
    written = {"glb": files["glb_key"], **(files["format_keys"] or {})}
    if name not in FORMATS:
        raise not_found(f"{name!r} is not an export format: use one of {', '.join(FORMATS)}")
    if name not in written:
        have = ", ".join(written)
        raise not_found(f"output {output_id} was not written as {name} (it has {have}): add it to its variant's --formats")
    key = written[name]
    suffix = stored_suffix(name, key or "")  # a format of several files is a zip
    return Response(
        site.glb(files, output_id) if name == "glb" else site.blob(key, f"output {output_id}'s {name.upper()}"),
        media_type="application/zip" if suffix == ".zip" else FORMATS[name].mime,
        headers={"Content-Disposition": content_disposition("attachment", f"{stem}{suffix}")},
    )


@router.get("/export.zip")
def file_export(
    site: Site,
    tag: list[str] = Query([]),
    collection: str | None = None,
    variant: str | None = None,
    review: str | None = Query(None, description="only outputs whose latest review is this: approved, say"),
    format: str = Query("glb", description="comma-separated formats: " + ", ".join(FORMATS)),  # noqa: A002
) -> Response:
    """Every made output of a search (a collection, tags, a variant, a review) in one zip, in each format asked for: the
    stored file where the variant wrote that format, else made now from the output's GLB."""
    tags = split_tags(tag)
    if not collection and not tags:
        raise HTTPException(status_code=400, detail="say what to download: a collection, a tag, or both")
    try:
        names = format_names(format)
        if not names:
            raise FormatError(f"choose from {', '.join(FORMATS)}")
        check_formats(names)
    except FormatError as exc:
        raise HTTPException(status_code=400, detail=f"format={format[:100]!r}: {exc}") from None
    except (RuntimeError, FileNotFoundError) as exc:  # a writer this server lacks (Blender for FBX, usd-core)
        raise HTTPException(status_code=503, detail=str(exc)) from None
    folder = Path(tempfile.mkdtemp(prefix="meshmill-export-"))
    try:  # the folder goes with any answer but the file
        try:
            chosen = {"collection": collection, "tags": tags, "variant": variant, "review": review or None}
            found = exported_files(site.engine, site.blobs, names, "{name}_{variant}.{ext}", **chosen)
            written = write_export(found, folder / "export.zip")
        except (LabelError, ValueError) as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        if not written:
            raise not_found("no made output matches this search")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    name = "_".join([*([collection] if collection else []), *tags, *([variant] if variant else []), *([review] if review else [])])
    return FileResponse(
        folder / "export.zip",
        media_type="application/zip",
        headers={"Content-Disposition": content_disposition("attachment", f"{name}.zip")},
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


@router.api_route("/outputs/{output_id}/obj.zip", methods=["GET", "HEAD"])
def file_obj_zip(site: Site, output_id: CatalogId) -> Response:
    files, stem = site.output_file(output_id)
    if files["obj_key"]:  # stored with the GLB where the GLB cannot give it back (quads, levels of detail)
        packed = site.blob(files["obj_key"], f"output {output_id}'s OBJ")
    else:
        data = site.glb(files, output_id)
        try:
            mesh = glb_mesh(data)
        except Exception as exc:  # a GLB of the right size that trimesh cannot read: named, not a bare 500
            raise damaged(output_id, "GLB", f"{type(exc).__name__}: {exc}") from None
        packed = obj_zip(mesh, stem)
    named = {"Content-Disposition": content_disposition("attachment", f"{stem}_obj.zip")}
    return Response(packed, media_type="application/zip", headers=named)


@router.api_route("/outputs/{output_id}/preview.png", methods=["GET", "HEAD"])
def file_preview(site: Site, output_id: CatalogId) -> Response:
    return Response(site.blob(site.output_file(output_id)[0]["preview_key"], f"output {output_id}'s preview"), media_type="image/png")


@router.api_route("/sources/{source_id}/image", methods=["GET", "HEAD"])
def file_source(site: Site, source_id: CatalogId, view: str = "front") -> Response:
    """One view of the source object as ingested (default: its front)."""
    record = site.found(catalog.source_files, source_id, view)
    stem = Path(record["object_name"]).stem
    name = f"{stem}.png" if record["filename"] == record["object_name"] else f"{stem}_{view}.png"
    return Response(
        site.blob(record["blob_key"], f"source image {source_id}'s {view} view"),
        media_type="image/png",
        headers={"Content-Disposition": content_disposition("inline", name)},
    )


@router.api_route("/sources/{source_id}/{stage}.png", methods=["GET", "HEAD"])
def file_stage(site: Site, source_id: CatalogId, stage: str, view: str = "front") -> Response:
    """A view as an image stage stored it: ``cleaned`` (cut out) or ``upscaled`` (upscaled and framed)."""
    stored = {"cleaned": "cleaned", "upscaled": "framed"}
    if stage not in stored:
        raise not_found(f"no stage {stage!r}: use cleaned or upscaled")
    key = view_key(stored[stage], site.found(catalog.source_files, source_id, view)["object_hash"], view)
    return Response(site.blob(key, f"source image {source_id}'s {stage} {view} view"), media_type="image/png")
