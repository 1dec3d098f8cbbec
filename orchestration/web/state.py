"""What every route of the web app reads: the catalog, the blob store, the page renderer, and the lookups that turn a
catalog id into a record or a 404 (``AppState``, reached through ``Site``); and the small rules routes share."""

from __future__ import annotations

import getpass
import hmac
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import fastapi
from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

import catalog
from catalog import MAX_ID, BlobNotFound, CatalogError, LabelError, OutputStatus
from catalog.keys import image_partition_key, output_partition_key
from catalog.reviews import MAX_REVIEWER
from catalog.rows import OutputDetail, SourceRecord

log = logging.getLogger(__name__)

PAGE = 24
STATUSES = tuple(s.value for s in OutputStatus)
CatalogId = Annotated[int, fastapi.Path(ge=0, le=MAX_ID)]
#: the most labels one request may add or remove
MAX_LABELS = 100
#: compare shows this many outputs at most
MAX_COMPARED = 4
#: where edit tokens come from (``name=token`` pairs, comma-separated) and the cookie a browser keeps one in
TOKENS_ENV = "MESHMILL_EDIT_TOKENS"
TOKEN_COOKIE = "meshmill_token"
MIN_TOKEN = 16


class TokenError(ValueError):
    """Edit tokens the app will not start with."""


def edit_tokens(text: str | None = None) -> dict[str, str]:
    """The reviewers' tokens (token → name) from ``name=token`` pairs, comma-separated (default: ``$MESHMILL_EDIT_TOKENS``)."""
    text = os.environ.get(TOKENS_ENV, "") if text is None else text
    tokens: dict[str, str] = {}
    for pair in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, token = (part.strip() for part in pair.partition("="))
        if not sep or not name or not token:
            raise TokenError(f"{TOKENS_ENV}: {pair.split('=')[0][:40]!r} is not name=token")
        if len(name) > MAX_REVIEWER or not name.isprintable():
            raise TokenError(f"{TOKENS_ENV}: the name {name[:40]!r} is not 1 to {MAX_REVIEWER} printable characters")
        if len(token) < MIN_TOKEN:
            hint = "e.g. `openssl rand -hex 16`"
            raise TokenError(f"{TOKENS_ENV}: {name}'s token is {len(token)} characters; use at least {MIN_TOKEN} ({hint})")
        if token in tokens:
            raise TokenError(f"{TOKENS_ENV}: {tokens[token]} and {name} have the same token")
        tokens[token] = name
    return tokens


def dagster_url() -> str:
    return os.environ.get("MESHMILL_DAGSTER_URL", "http://127.0.0.1:3000").rstrip("/")


def content_disposition(disposition: str, filename: str) -> str:
    """An RFC 6266 Content-Disposition: an ASCII ``filename`` (anything else, quotes and backslashes as ``_``)
    for old clients and the exact name as ``filename*`` in UTF-8; control characters are dropped from both."""
    name = "".join(c for c in filename if c.isprintable())
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def is_decimal(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts '²' and '①', which ``int`` refuses."""
    return text.isascii() and text.isdigit()


def split_tags(values: list[str]) -> list[str]:
    """Tags as a query gives them: repeated (``tag=a&tag=b``) or comma-separated (``tag=a, b``), blanks dropped."""
    return [t.strip() for value in values for t in value.split(",") if t.strip()]


def not_found(message: str) -> HTTPException:
    return HTTPException(status_code=404, detail=message)


@dataclass(frozen=True)
class AppState:
    """One app's catalog, blob store and pages; ``allow_edits``: whether label edits and reviews are taken."""

    engine: Engine
    blobs: catalog.BlobStore
    templates: Jinja2Templates
    allow_edits: bool = False
    has_three: bool = False
    #: with edits allowed, who may edit: token → reviewer's name. Empty: whoever reaches the app edits, recorded as the
    #: user running it (``meshmill serve`` then binds to loopback only)
    tokens: Mapping[str, str] = field(default_factory=dict)

    def search(self, tag: list[str], collection: str | None, variant: str | None, status: str | None, before: int | None,
               limit: int, summary: bool, review: str | None = None) -> dict[str, Any]:  # fmt: skip
        filters = {
            "tags": split_tags(tag),
            "collection": collection or None,
            "variant": variant or None,
            "status": status or None,
            "review": review or None,
            "before_id": before,
            "limit": limit,
        }
        try:
            items = catalog.find(self.engine, summary=summary, **filters)
        except (LabelError, ValueError) as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        return {"items": items, "next_before": items[-1]["id"] if len(items) == limit else None}

    def found(self, lookup: Callable[..., Any], record_id: int, *more: Any) -> Any:
        """``lookup(engine, record_id, *more)``; an id the catalog does not know answers 404 with its message."""
        try:
            return lookup(self.engine, record_id, *more)
        except CatalogError as exc:
            raise not_found(str(exc)) from None

    def output(self, output_id: int) -> OutputDetail:
        return self.found(catalog.output_detail, output_id)

    def source(self, source_id: int) -> SourceRecord:
        return self.found(catalog.show, source_id)

    def output_file(self, output_id: int) -> tuple[dict[str, Any], str]:
        """The output's blob keys (one query, not the whole record) and the stem its downloads are named by."""
        files = self.found(catalog.output_files, output_id)
        return files, f"{Path(files['filename']).stem}_{files['variant']}"

    def blob(self, key: str | None, what: str) -> bytes:
        if not key:
            raise not_found(f"{what} does not exist yet")
        try:
            return self.blobs.get(key)
        except BlobNotFound:
            raise not_found(f"{what} is missing from the blob store") from None

    def glb(self, files: dict[str, Any], output_id: int) -> bytes:
        """The output's GLB, refused (named) when the store holds other than the bytes written (cut short, say)."""
        data = self.blob(files["glb_key"], f"output {output_id}'s GLB")
        if files["byte_size"] is not None and len(data) != files["byte_size"]:
            raise damaged(output_id, "GLB", f"{len(data):,} bytes of the {files['byte_size']:,} written")
        return data

    def reviewer(self, request: Request) -> str | None:
        """Who sends this request, by the token it carries (``Authorization: Bearer``, or the cookie signing in sets);
        None where it carries none this app knows. With no tokens set, the user running the app."""
        if not self.tokens:
            return f"{getpass.getuser()} (local)"
        header = request.headers.get("authorization", "")
        return self.name_of(header[7:].strip() if header[:7].lower() == "bearer " else request.cookies.get(TOKEN_COOKIE, ""))

    def name_of(self, given: str) -> str | None:
        """The reviewer whose token ``given`` is (compared in constant time), or None."""
        given_bytes = given.encode()
        return next((name for token, name in self.tokens.items() if given and hmac.compare_digest(token.encode(), given_bytes)), None)

    def refuse_read_only(self) -> None:
        if not self.allow_edits:
            raise HTTPException(status_code=403, detail="this server is read-only: start it with `meshmill serve --allow-edits`")

    def editor(self, request: Request) -> str:
        """The reviewer an edit is recorded under; 403 on a read-only app, 401 without a known token."""
        self.refuse_read_only()
        name = self.reviewer(request)
        if name is None:
            raise HTTPException(status_code=401, detail=f"sign in: send your edit token (one of {TOKENS_ENV}) as `Authorization: Bearer`")
        return name

    def page(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        base = {
            "allow_edits": self.allow_edits,
            "three": self.has_three,
            "signed_in": self.allow_edits and self.reviewer(request),
            "needs_token": bool(self.tokens),
        }
        return self.templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def damaged(output_id: int, what: str, problem: str) -> HTTPException:
    log.warning("output %s: %s is damaged in the blob store: %s", output_id, what, problem)
    detail = f"output {output_id}'s {what} is damaged in the blob store ({problem}): make it again with `meshmill convert --force`"
    return HTTPException(status_code=500, detail=detail)


def links(detail: Mapping[str, Any]) -> dict[str, str]:
    """Where the output is in the Dagster UI: its partition of ``textured_glb`` and the run that made it."""
    src, out = detail["source"], detail["output"]
    partition = output_partition_key(image_partition_key(src["content_hash"], src["filename"]), out["variant"])
    result = {"asset": f"{dagster_url()}/assets/textured_glb?view=partitions&partition={partition}"}
    if out["dagster_run_id"]:
        result["run"] = f"{dagster_url()}/runs/{out['dagster_run_id']}"
    return result


def app_state(request: Request) -> AppState:
    return request.app.state.meshmill


#: a route's parameter for the app it serves
Site = Annotated[AppState, fastapi.Depends(app_state)]
