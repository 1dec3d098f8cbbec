"""The pages people use: search, an output with its 3D viewer, and up to four outputs side by side."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

import catalog
from catalog import MAX_ID, REVIEW_FILTERS
from inference.mesh.formats import FORMATS
from orchestration.web.state import MAX_COMPARED, PAGE, STATUSES, CatalogId, Site, is_decimal, links

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def search_page(
    request: Request,
    site: Site,
    tag: list[str] = Query([]),
    collection: str | None = None,
    variant: str | None = None,
    status: str | None = None,
    review: str | None = None,
    before: int | None = Query(None, ge=0, le=MAX_ID),
) -> HTMLResponse:
    result = site.search(tag, collection, variant, status, before, PAGE, summary=True, review=review)  # the page shows no more
    filters = {
        "tag": ", ".join(t for t in tag if t),
        "collection": collection or "",
        "variant": variant or "",
        "status": status or "",
        "review": review or "",
    }
    return site.page(
        request,
        "search.html",
        result=result,
        filters=filters,
        statuses=STATUSES,
        reviews=REVIEW_FILTERS,
        collections=catalog.list_collections(site.engine),
        variants=catalog.list_variants(site.engine),
        formats=list(FORMATS),
    )


@router.get("/outputs/{output_id}", response_class=HTMLResponse)
def output_page(request: Request, site: Site, output_id: CatalogId) -> HTMLResponse:
    detail = site.output(output_id)
    return site.page(
        request,
        "output.html",
        detail=detail,
        links=links(detail),
        attempts=catalog.attempts_of(site.engine, output_id),
        reviews=catalog.reviews_of(site.engine, output_id),
        variants=[v["name"] for v in catalog.list_variants(site.engine)] if site.allow_edits else [],
    )


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, site: Site, ids: str = "", image: int | None = Query(None, ge=0, le=MAX_ID)) -> HTMLResponse:
    if image is not None:  # every finished variant of one source image
        record = site.source(image)
        chosen = [{"source": record, "output": o} for o in record["outputs"] if o["status"] == "succeeded"][:MAX_COMPARED]
    else:
        given = [i.strip() for i in ids.split(",") if i.strip()]
        if len(given) > MAX_COMPARED:  # before any is looked up
            raise HTTPException(status_code=400, detail=f"compare shows one to {MAX_COMPARED} outputs; {len(given):,} ids were given")
        if not all(is_decimal(i) and int(i) <= MAX_ID for i in given):
            raise HTTPException(status_code=400, detail=f"ids={ids[:100]!r}: give output ids separated by commas")
        chosen = [site.output(int(i)) for i in given]
    if not 1 <= len(chosen) <= MAX_COMPARED:
        raise HTTPException(status_code=400, detail="compare shows one to four outputs: give ids=1,2 or image=<source image id>")
    return site.page(request, "compare.html", outputs=chosen)
