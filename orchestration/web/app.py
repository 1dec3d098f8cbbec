"""``meshmill serve``: the catalog web app — search, a 3D viewer per output, side-by-side variants, downloads.

Pages are rendered on the server (Jinja2); the viewer is three.js from ``node_modules`` (installed by
``npm ci``), served locally, so the pages work with no internet. Files are only ever reached through
catalog ids — a URL never names a blob key or a path. Read-only unless started with ``allow_edits``.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import fastapi
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.middleware.trustedhost import TrustedHostMiddleware

import catalog
from catalog import MAX_ID, BlobNotFound, CatalogError, LabelError, OutputStatus
from catalog.keys import image_partition_key, view_key
from inference.mesh.export import glb_mesh, obj_zip
from inference.mesh.formats import FORMATS, FormatError, check_formats, format_names, stored_suffix
from orchestration.exports import exported_files, write_export
from orchestration.web.ranges import Unsatisfiable, requested_range

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
THREE = Path(os.environ.get("MESHMILL_THREE_DIR") or HERE.parents[1] / "node_modules" / "three")
PAGE = 24
STATUSES = tuple(s.value for s in OutputStatus)
CatalogId = Annotated[int, fastapi.Path(ge=0, le=MAX_ID)]
#: the most labels one request may add or remove, and the largest request body (the label edits are the only ones)
MAX_LABELS = 100
MAX_BODY = 64 * 1024
#: compare shows this many outputs at most
MAX_COMPARED = 4
#: the names a browser may reach the app by unless the operator names more (`meshmill serve --allowed-host`): a
#: Host header outside them is refused, so a page of another site cannot reach the app through DNS rebinding
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def dagster_url() -> str:
    return os.environ.get("MESHMILL_DAGSTER_URL", "http://127.0.0.1:3000").rstrip("/")


class LabelEdit(BaseModel):
    kind: str  # tag | collection
    add: list[str] = Field(default_factory=list, max_length=MAX_LABELS)
    remove: list[str] = Field(default_factory=list, max_length=MAX_LABELS)
    variant: str | None = None  # label the variant's output instead of the image


def allowed_hosts(bind: str = "127.0.0.1", named: Sequence[str] = ()) -> list[str]:
    """The Host names the app answers: loopback, the interface it is bound to, the ones ``named`` (and in
    ``MESHMILL_ALLOWED_HOSTS``, comma-separated), and on a wildcard bind this machine's own name and addresses."""
    hosts = [*LOOPBACK_HOSTS, *named, *(h.strip() for h in os.environ.get("MESHMILL_ALLOWED_HOSTS", "").split(",") if h.strip())]
    if bind in WILDCARD_BINDS:
        name = socket.gethostname()
        hosts += [name, socket.getfqdn()]
        try:
            hosts += socket.gethostbyname_ex(name)[2]
        except OSError:  # a name this machine cannot resolve: its loopback and named hosts still answer
            pass
    else:
        hosts.append(bind)
    return list(dict.fromkeys(hosts))


def content_disposition(disposition: str, filename: str) -> str:
    """An RFC 6266 Content-Disposition: an ASCII ``filename`` (anything else, quotes and backslashes as ``_``)
    for old clients and the exact name as ``filename*`` in UTF-8; control characters are dropped from both."""
    name = "".join(c for c in filename if c.isprintable())
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def security_headers(nonce: str, path: str) -> dict[str, str]:
    """What every response carries: no sniffing, no framing, no referrer off the site, and a Content-Security-Policy
    that runs only this app's scripts (inline ones by ``nonce``). The API docs page loads Swagger UI from its CDN,
    so it goes without the policy."""
    headers = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}
    if not path.startswith("/api/docs"):
        headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; connect-src 'self' data: blob:; worker-src 'self' blob:; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
    return headers


def is_decimal(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts '²' and '①', which ``int`` refuses."""
    return text.isascii() and text.isdigit()


def split_tags(values: list[str]) -> list[str]:
    """Tags as a query gives them: repeated (``tag=a&tag=b``) or comma-separated (``tag=a, b``), blanks dropped."""
    return [t.strip() for value in values for t in value.split(",") if t.strip()]


def _not_found(message: str) -> HTTPException:
    return HTTPException(status_code=404, detail=message)


def create_app(allow_edits: bool = False, hosts: Sequence[str] | None = None) -> FastAPI:
    """The app; ``hosts``: the Host names it answers (default: ``allowed_hosts()``, loopback)."""
    engine, blobs = catalog.get_engine(), catalog.blob_store_from_env()
    app = FastAPI(title="Meshmill catalog", docs_url="/api/docs", openapi_url="/api/openapi.json")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    has_three = (THREE / "build" / "three.module.js").is_file()
    if has_three:
        app.mount("/vendor/three", StaticFiles(directory=THREE), name="three")

    # a request for another Host never reaches the app; added first, so that `guarded` (added after it, so
    # around it) puts the security headers on its refusal too
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts) if hosts is not None else allowed_hosts())

    @app.middleware("http")
    async def ranged(request: Request, call_next):  # noqa: ANN001, ANN202
        """Downloads answer a byte range (``ranges``); inside ``guarded``, so a 206 or 416 has its headers too."""
        response = await call_next(request)
        if not request.url.path.startswith("/files/") or response.status_code != 200:
            return response
        response.headers["Accept-Ranges"] = "bytes"
        if request.method != "GET" or "range" not in request.headers:
            return response
        body = b"".join([chunk async for chunk in response.body_iterator])
        headers = {k: v for k, v in response.headers.items() if k != "content-length"}
        try:
            span = requested_range(request.headers["range"], len(body))
        except Unsatisfiable:
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{len(body)}"})
        if span is None:
            return Response(body, headers=headers)
        first, last = span
        return Response(body[first : last + 1], status_code=206, headers={**headers, "Content-Range": f"bytes {first}-{last}/{len(body)}"})

    @app.middleware("http")
    async def guarded(request: Request, call_next):  # noqa: ANN001, ANN202
        start = time.perf_counter()
        request.state.nonce = secrets.token_urlsafe(16)
        try:
            response = refused_body(request) or await call_next(request)
        except Exception:  # an answer, with the headers every response carries, rather than Starlette's bare 500
            log.exception("%s %s failed", request.method, request.url.path)
            response = JSONResponse({"detail": "the server failed to answer this request (see its log)"}, status_code=500)
        response.headers.update(security_headers(request.state.nonce, request.url.path))
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.1f}"
        return response

    def refused_body(request: Request) -> Response | None:
        """413 for a body over MAX_BODY, 411 for a body of unstated length (the app reads none it cannot size)."""
        if request.method not in ("POST", "PUT", "PATCH"):
            return None
        length = request.headers.get("content-length")
        if length is None or not is_decimal(length):
            return JSONResponse({"detail": "a request body needs a Content-Length"}, status_code=411)
        if int(length) > MAX_BODY:
            return JSONResponse({"detail": f"the request body is {int(length):,} bytes; at most {MAX_BODY:,} are read"}, status_code=413)
        return None

    def search(
        tag: list[str], collection: str | None, variant: str | None, status: str | None, before: int | None, limit: int, summary: bool
    ) -> dict[str, Any]:
        filters = {
            "tags": split_tags(tag),
            "collection": collection or None,
            "variant": variant or None,
            "status": status or None,
            "before_id": before,
            "limit": limit,
        }
        try:
            items = catalog.find(engine, summary=summary, **filters)
        except (LabelError, ValueError) as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        return {"items": items, "next_before": items[-1]["id"] if len(items) == limit else None}

    def found(lookup: Callable[..., dict[str, Any]], record_id: int, *more: Any) -> dict[str, Any]:
        """``lookup(engine, record_id, *more)``; an id the catalog does not know answers 404 with its message."""
        try:
            return lookup(engine, record_id, *more)
        except CatalogError as exc:
            raise _not_found(str(exc)) from None

    def output(output_id: int) -> dict[str, Any]:
        return found(catalog.output_detail, output_id)

    def source(source_id: int) -> dict[str, Any]:
        return found(catalog.show, source_id)

    def output_file(output_id: int) -> tuple[dict[str, Any], str]:
        """The output's blob keys (one query, not the whole record) and the stem its downloads are named by."""
        files = found(catalog.output_files, output_id)
        return files, f"{Path(files['filename']).stem}_{files['variant']}"

    def blob(key: str | None, what: str) -> bytes:
        if not key:
            raise _not_found(f"{what} does not exist yet")
        try:
            return blobs.get(key)
        except BlobNotFound:
            raise _not_found(f"{what} is missing from the blob store") from None

    def damaged(output_id: int, what: str, problem: str) -> HTTPException:
        log.warning("output %s: %s is damaged in the blob store: %s", output_id, what, problem)
        detail = f"output {output_id}'s {what} is damaged in the blob store ({problem}): make it again with `meshmill convert --force`"
        return HTTPException(status_code=500, detail=detail)

    def glb(files: dict[str, Any], output_id: int) -> bytes:
        """The output's GLB, refused (named) when the store holds other than the bytes written (cut short, say)."""
        data = blob(files["glb_key"], f"output {output_id}'s GLB")
        if files["byte_size"] is not None and len(data) != files["byte_size"]:
            raise damaged(output_id, "GLB", f"{len(data):,} bytes of the {files['byte_size']:,} written")
        return data

    def links(detail: dict[str, Any]) -> dict[str, str]:
        src, out = detail["source"], detail["output"]
        partition = f"{image_partition_key(src['content_hash'], src['filename'])}|{out['variant']}"
        result = {"asset": f"{dagster_url()}/assets/textured_glb?view=partitions&partition={partition}"}
        if out["dagster_run_id"]:
            result["run"] = f"{dagster_url()}/runs/{out['dagster_run_id']}"
        return result

    # --- JSON API ------------------------------------------------------------------------------------

    @app.get("/api/search")
    def api_search(
        tag: list[str] = Query([]),
        collection: str | None = None,
        variant: str | None = None,
        status: str | None = None,
        before: int | None = Query(None, ge=0, le=MAX_ID),
        limit: int = Query(PAGE, ge=1, le=200),
        summary: bool = Query(False, description="outputs without parameters, timings, counts and licences: a cheaper listing"),
    ) -> dict[str, Any]:
        return search(tag, collection, variant, status, before, limit, summary)

    @app.get("/api/outputs/{output_id}")
    def api_output(output_id: CatalogId) -> dict[str, Any]:
        detail = output(output_id)
        return {**detail, "links": links(detail), "attempts": catalog.attempts_of(engine, output_id)}

    @app.get("/api/sources/{source_id}/variants")
    def api_variants(source_id: CatalogId) -> list[dict[str, Any]]:
        return source(source_id)["outputs"]

    @app.post("/api/sources/{source_id}/labels")
    def api_edit_labels(source_id: CatalogId, edit: LabelEdit) -> dict[str, Any]:
        if not allow_edits:
            raise HTTPException(status_code=403, detail="this server is read-only: start it with `meshmill serve --allow-edits`")
        if edit.kind not in ("tag", "collection"):
            raise HTTPException(status_code=400, detail=f"kind {edit.kind!r}: use 'tag' or 'collection'")
        try:
            labels = catalog.edit_labels(engine, edit.kind, source_id, add=edit.add, remove=edit.remove, variant=edit.variant)
        except LabelError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        except CatalogError as exc:
            raise _not_found(str(exc)) from None
        return {"kind": edit.kind, "labels": labels}

    # --- files: by catalog id only -------------------------------------------------------------------

    @app.api_route("/files/outputs/{output_id}/model.{name}", methods=["GET", "HEAD"])
    def file_model(output_id: CatalogId, name: str) -> Response:
        """The output in any format it was written as: the GLB, or one its variant asks for (``formats``)."""
        files, stem = output_file(output_id)
        written = {"glb": files["glb_key"], **(files["format_keys"] or {})}
        if name not in FORMATS:
            raise _not_found(f"{name!r} is not an export format: use one of {', '.join(FORMATS)}")
        if name not in written:
            have = ", ".join(written)
            raise _not_found(f"output {output_id} was not written as {name} (it has {have}): add it to its variant's --formats")
        key = written[name]
        suffix = stored_suffix(name, key or "")  # a format of several files is a zip
        return Response(
            glb(files, output_id) if name == "glb" else blob(key, f"output {output_id}'s {name.upper()}"),
            media_type="application/zip" if suffix == ".zip" else FORMATS[name].mime,
            headers={"Content-Disposition": content_disposition("attachment", f"{stem}{suffix}")},
        )

    @app.get("/files/export.zip")
    def file_export(
        tag: list[str] = Query([]),
        collection: str | None = None,
        variant: str | None = None,
        format: str = Query("glb", description="comma-separated formats: " + ", ".join(FORMATS)),  # noqa: A002
    ) -> Response:
        """Every made output of a search (a collection, tags, a variant) in one zip, in each format asked for: the
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
                found = exported_files(engine, blobs, names, "{name}_{variant}.{ext}", collection=collection, tags=tags, variant=variant)
                written = write_export(found, folder / "export.zip")
            except (LabelError, ValueError) as exc:
                raise HTTPException(status_code=400, detail=str(exc)) from None
            if not written:
                raise _not_found("no made output matches this search")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        name = "_".join([*([collection] if collection else []), *tags, *([variant] if variant else [])])
        return FileResponse(
            folder / "export.zip",
            media_type="application/zip",
            headers={"Content-Disposition": content_disposition("attachment", f"{name}.zip")},
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )

    @app.api_route("/files/outputs/{output_id}/obj.zip", methods=["GET", "HEAD"])
    def file_obj_zip(output_id: CatalogId) -> Response:
        files, stem = output_file(output_id)
        if files["obj_key"]:  # stored with the GLB where the GLB cannot give it back (quads, levels of detail)
            packed = blob(files["obj_key"], f"output {output_id}'s OBJ")
        else:
            data = glb(files, output_id)
            try:
                mesh = glb_mesh(data)
            except Exception as exc:  # a GLB of the right size that trimesh cannot read: named, not a bare 500
                raise damaged(output_id, "GLB", f"{type(exc).__name__}: {exc}") from None
            packed = obj_zip(mesh, stem)
        named = {"Content-Disposition": content_disposition("attachment", f"{stem}_obj.zip")}
        return Response(packed, media_type="application/zip", headers=named)

    @app.api_route("/files/outputs/{output_id}/preview.png", methods=["GET", "HEAD"])
    def file_preview(output_id: CatalogId) -> Response:
        return Response(blob(output_file(output_id)[0]["preview_key"], f"output {output_id}'s preview"), media_type="image/png")

    @app.api_route("/files/sources/{source_id}/image", methods=["GET", "HEAD"])
    def file_source(source_id: CatalogId, view: str = "front") -> Response:
        """One view of the source object as ingested (default: its front)."""
        record = found(catalog.source_files, source_id, view)
        stem = Path(record["object_name"]).stem
        name = f"{stem}.png" if record["filename"] == record["object_name"] else f"{stem}_{view}.png"
        return Response(
            blob(record["blob_key"], f"source image {source_id}'s {view} view"),
            media_type="image/png",
            headers={"Content-Disposition": content_disposition("inline", name)},
        )

    @app.api_route("/files/sources/{source_id}/{stage}.png", methods=["GET", "HEAD"])
    def file_stage(source_id: CatalogId, stage: str, view: str = "front") -> Response:
        """A view as an image stage stored it: ``cleaned`` (cut out) or ``upscaled`` (upscaled and framed)."""
        stored = {"cleaned": "cleaned", "upscaled": "framed"}
        if stage not in stored:
            raise _not_found(f"no stage {stage!r}: use cleaned or upscaled")
        key = view_key(stored[stage], found(catalog.source_files, source_id, view)["object_hash"], view)
        return Response(blob(key, f"source image {source_id}'s {stage} {view} view"), media_type="image/png")

    # --- pages ---------------------------------------------------------------------------------------

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            request, name, {"allow_edits": allow_edits, "three": has_three, **context}, status_code=status_code
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):  # noqa: ANN202
        for error in exc.errors():
            if error["loc"][0] == "path":  # /outputs/abc: there is no such thing, rather than a malformed request
                what = {"output_id": "output", "source_id": "source image"}.get(error["loc"][1], error["loc"][1])
                return await http_error(request, _not_found(f"no such {what}: {error.get('input')!r}"))
        message = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return await http_error(request, HTTPException(status_code=400, detail=message))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):  # noqa: ANN202
        if request.url.path.startswith(("/api/", "/files/")):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return page(request, "error.html", status_code=exc.status_code, message=exc.detail, code=exc.status_code)

    @app.get("/", response_class=HTMLResponse)
    def search_page(
        request: Request,
        tag: list[str] = Query([]),
        collection: str | None = None,
        variant: str | None = None,
        status: str | None = None,
        before: int | None = Query(None, ge=0, le=MAX_ID),
    ) -> HTMLResponse:
        result = search(tag, collection, variant, status, before, PAGE, summary=True)  # the page shows no more
        filters = {"tag": ", ".join(t for t in tag if t), "collection": collection or "", "variant": variant or "", "status": status or ""}
        return page(
            request,
            "search.html",
            result=result,
            filters=filters,
            statuses=STATUSES,
            collections=catalog.list_collections(engine),
            variants=catalog.list_variants(engine),
            formats=list(FORMATS),
        )

    @app.get("/outputs/{output_id}", response_class=HTMLResponse)
    def output_page(request: Request, output_id: CatalogId) -> HTMLResponse:
        detail = output(output_id)
        return page(request, "output.html", detail=detail, links=links(detail), attempts=catalog.attempts_of(engine, output_id))

    @app.get("/compare", response_class=HTMLResponse)
    def compare_page(request: Request, ids: str = "", image: int | None = Query(None, ge=0, le=MAX_ID)) -> HTMLResponse:
        if image is not None:  # every finished variant of one source image
            record = source(image)
            chosen = [{"source": record, "output": o} for o in record["outputs"] if o["status"] == "succeeded"][:4]
        else:
            given = [i.strip() for i in ids.split(",") if i.strip()]
            if len(given) > MAX_COMPARED:  # before any is looked up
                raise HTTPException(status_code=400, detail=f"compare shows one to {MAX_COMPARED} outputs; {len(given):,} ids were given")
            if not all(is_decimal(i) and int(i) <= MAX_ID for i in given):
                raise HTTPException(status_code=400, detail=f"ids={ids[:100]!r}: give output ids separated by commas")
            chosen = [output(int(i)) for i in given]
        if not 1 <= len(chosen) <= MAX_COMPARED:
            raise HTTPException(status_code=400, detail="compare shows one to four outputs: give ids=1,2 or image=<source image id>")
        return page(request, "compare.html", outputs=chosen)

    return app
