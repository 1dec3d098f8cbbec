"""The JSON API: search, an output with its links and attempts, a source's variants, label edits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

import catalog
from catalog import MAX_ID, REVIEW_FILTERS, CatalogError, LabelError
from orchestration.web.state import MAX_LABELS, PAGE, CatalogId, Site, links, not_found

router = APIRouter(prefix="/api")


class LabelEdit(BaseModel):
    kind: str  # tag | collection
    add: list[str] = Field(default_factory=list, max_length=MAX_LABELS)
    remove: list[str] = Field(default_factory=list, max_length=MAX_LABELS)
    variant: str | None = None  # label the variant's output instead of the image


@router.get("/search")
def api_search(
    site: Site,
    tag: list[str] = Query([]),
    collection: str | None = None,
    variant: str | None = None,
    status: str | None = None,
    review: str | None = Query(None, description="an output's latest review: " + ", ".join(REVIEW_FILTERS)),
    before: int | None = Query(None, ge=0, le=MAX_ID),
    limit: int = Query(PAGE, ge=1, le=200),
    summary: bool = Query(False, description="outputs without parameters, timings, counts and licences: a cheaper listing"),
) -> dict[str, Any]:
    return site.search(tag, collection, variant, status, before, limit, summary, review)


@router.get("/outputs/{output_id}")
def api_output(site: Site, output_id: CatalogId) -> dict[str, Any]:
    detail = site.output(output_id)
    return {**detail, "links": links(detail), "attempts": catalog.attempts_of(site.engine, output_id)}


@router.get("/sources/{source_id}/variants")
def api_variants(site: Site, source_id: CatalogId) -> list[dict[str, Any]]:
    return site.source(source_id)["outputs"]


@router.post("/sources/{source_id}/labels")
def api_edit_labels(request: Request, site: Site, source_id: CatalogId, edit: LabelEdit) -> dict[str, Any]:
    site.editor(request)
    if edit.kind not in ("tag", "collection"):
        raise HTTPException(status_code=400, detail=f"kind {edit.kind!r}: use 'tag' or 'collection'")
    try:
        labels = catalog.edit_labels(site.engine, edit.kind, source_id, add=edit.add, remove=edit.remove, variant=edit.variant)
    except LabelError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    except CatalogError as exc:
        raise not_found(str(exc)) from None
    return {"kind": edit.kind, "labels": labels}
