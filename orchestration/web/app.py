"""``meshmill serve``: the catalog web app — search, a 3D viewer per output, side-by-side variants, downloads.

Pages are rendered on the server (Jinja2); the viewer is three.js from ``node_modules`` (installed by
``npm ci``), served locally, so the pages work with no internet. Files are only ever reached through
catalog ids — a URL never names a blob key or a path. Read-only unless started with ``allow_edits``.
This module assembles the app (its state, middleware and error pages); the routes are in ``api``, ``files`` and
``pages``, and what they share in ``state``.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.trustedhost import TrustedHostMiddleware

import catalog
from orchestration.web import api, files, pages, review
from orchestration.web.ranges import Unsatisfiable, requested_range
from orchestration.web.state import AppState, edit_tokens, is_decimal, not_found

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
THREE = Path(os.environ.get("MESHMILL_THREE_DIR") or HERE.parents[1] / "node_modules" / "three")
#: the largest request body (label edits and reviews are the only ones)
MAX_BODY = 64 * 1024
#: the names a browser may reach the app by unless the operator names more (`meshmill serve --allowed-host`): a
#: Host header outside them is refused, so a page of another site cannot reach the app through DNS rebinding
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


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


def create_app(allow_edits: bool = False, hosts: Sequence[str] | None = None, tokens: dict[str, str] | None = None) -> FastAPI:
    """The app; ``hosts``: the Host names it answers (default: ``allowed_hosts()``, loopback); ``tokens``: who may
    edit (token → reviewer, default: ``$MESHMILL_EDIT_TOKENS``; none: whoever reaches the app)."""
    app = FastAPI(title="Meshmill catalog", docs_url="/api/docs", openapi_url="/api/openapi.json")
    state = AppState(
        engine=catalog.get_engine(),
        blobs=catalog.blob_store_from_env(),
        templates=Jinja2Templates(directory=str(HERE / "templates")),
        allow_edits=allow_edits,
        tokens=edit_tokens() if tokens is None else tokens,
        has_three=(THREE / "build" / "three.module.js").is_file(),
    )
    app.state.meshmill = state
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    if state.has_three:
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

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):  # noqa: ANN202
        for error in exc.errors():
            if error["loc"][0] == "path":  # /outputs/abc: there is no such thing, rather than a malformed request
                what = {"output_id": "output", "source_id": "source image"}.get(error["loc"][1], error["loc"][1])
                return await http_error(request, not_found(f"no such {what}: {error.get('input')!r}"))
        message = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return await http_error(request, HTTPException(status_code=400, detail=message))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):  # noqa: ANN202
        if request.url.path.startswith(("/api/", "/files/")):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return state.page(request, "error.html", status_code=exc.status_code, message=exc.detail, code=exc.status_code)

    for router in (api.router, review.router, files.router, pages.router):
        app.include_router(router)
    return app
