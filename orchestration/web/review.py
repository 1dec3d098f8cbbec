"""Review where the art lead looks: approve or reject an output, or ask for it again — with another seed or as another
variant — which the catalog records (who, when, why) and Dagster's ``remakes_sensor`` queues as a run. Edits carry a
reviewer's token (``$MESHMILL_EDIT_TOKENS``); a browser signs in once and keeps it in an HttpOnly cookie."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

import catalog
from catalog import CatalogError, ReviewError
from catalog.reviews import MAX_NOTE
from orchestration.web.state import TOKEN_COOKIE, CatalogId, Site

router = APIRouter(prefix="/api")


class Decision(BaseModel):
    decision: str  # approved | rejected
    note: str | None = Field(None, max_length=MAX_NOTE)


class Remake(BaseModel):
    variant: str | None = Field(None, max_length=64, description="make it as this variant; none: the output's own with the next seed")
    note: str | None = Field(None, max_length=MAX_NOTE)


class SignIn(BaseModel):
    token: str = Field(max_length=512)


@router.post("/session")
def sign_in(request: Request, site: Site, given: SignIn, response: Response) -> dict[str, str]:
    """Check a reviewer's token and keep it in a cookie the pages' edits send (HttpOnly, same site only)."""
    site.refuse_read_only()
    if not site.tokens:
        raise HTTPException(status_code=400, detail="this server takes edits without a token: there is nothing to sign in to")
    name = site.name_of(given.token)
    if name is None:
        raise HTTPException(status_code=401, detail="that token is not one of this server's")
    secure = request.url.scheme == "https"
    response.set_cookie(TOKEN_COOKIE, given.token, httponly=True, samesite="strict", secure=secure, max_age=30 * 24 * 3600)
    return {"reviewer": name}


@router.delete("/session")
def sign_out(response: Response) -> dict[str, bool]:
    response.delete_cookie(TOKEN_COOKIE)
    return {"signed_out": True}


@router.get("/outputs/{output_id}/reviews")
def api_reviews(site: Site, output_id: CatalogId) -> list[dict[str, Any]]:
    site.output_file(output_id)  # 404 for an output that does not exist
    return catalog.reviews_of(site.engine, output_id)


@router.post("/outputs/{output_id}/review")
def api_review(request: Request, site: Site, output_id: CatalogId, given: Decision) -> dict[str, Any]:
    """Approve or reject the output; the latest decision is what searches and exports filter on."""
    reviewer = site.editor(request)
    if given.decision not in ("approved", "rejected"):
        raise HTTPException(status_code=400, detail=f"decision {given.decision[:40]!r}: use approved or rejected (a remake is /remake)")
    return decided(site, output_id, given.decision, reviewer, note=given.note)


@router.post("/outputs/{output_id}/remake")
def api_remake(request: Request, site: Site, output_id: CatalogId, given: Remake) -> dict[str, Any]:
    """Ask for the output again: as ``variant``, or (none given) as its own variant with the next seed, which Dagster's
    ``remakes_sensor`` defines (``desktop`` → ``desktop-seed1``) when it queues the run; the new output appears beside
    this one."""
    return decided(site, output_id, "remake", site.editor(request), note=given.note, variant=given.variant)


def decided(site: Site, output_id: int, decision: str, reviewer: str, **details: Any) -> dict[str, Any]:
    site.output_file(output_id)  # 404 for an output that does not exist; any other refusal is the request's
    try:
        return catalog.review_output(site.engine, output_id, decision, reviewer, **details)
    except (ReviewError, CatalogError) as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
