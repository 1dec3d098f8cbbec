"""Review: an art lead approves or rejects an output, or asks for it again, and the catalog records who and when.

Every decision is a row of ``review`` (the history); the output keeps its latest approval or rejection in
``output.review``, which searches and exports filter on (``review="approved"``). A remake names the variant to
make, or none for "the same with another seed": Dagster's remakes sensor reads the remakes asked for since its
cursor (``remakes_after``), defines that variant and notes it on the remake (``settle_remake``), and queues the runs.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Engine, insert, select, update

from catalog.keys import image_partition_key
from catalog.models import Output, OutputStatus, Review, ReviewDecision, SourceImage, Variant, iso_utc, utcnow
from catalog.records import CatalogError
from catalog.rows import ReviewRow

_review = Review.__table__
_out = Output.__table__


class ReviewFilter(str, enum.Enum):
    """What a search may ask of an output's review: its latest decision, or none yet."""

    approved = "approved"
    rejected = "rejected"
    unreviewed = "unreviewed"


REVIEW_FILTERS = tuple(f.value for f in ReviewFilter)
MAX_NOTE = 2000
MAX_REVIEWER = 128


class ReviewError(ValueError):
    """A decision the catalog cannot take as given (a reviewer without a name, a note too long, an unmade output approved)."""


def review_output(
    engine: Engine, output_id: int, decision: str, reviewer: str, *, note: str | None = None, variant: str | None = None
) -> ReviewRow:
    """Record ``reviewer``'s ``decision`` on the output; returns the review as stored. Approving needs a made output;
    a remake may name the ``variant`` to make (defined already); without one it asks for another seed."""
    try:
        decision = ReviewDecision(decision).value
    except ValueError:
        raise ReviewError(f"decision {decision!r}: use one of {', '.join(d.value for d in ReviewDecision)}") from None
    reviewer = (reviewer or "").strip()
    if not reviewer or len(reviewer) > MAX_REVIEWER or not reviewer.isprintable():
        raise ReviewError(f"reviewer {reviewer[:40]!r}: give a name of 1 to {MAX_REVIEWER} printable characters")
    if note is not None and len(note) > MAX_NOTE:
        raise ReviewError(f"the note is {len(note):,} characters; at most {MAX_NOTE:,} are kept")
    if variant is not None and decision != ReviewDecision.remake:
        raise ReviewError("only a remake names a variant to make")
    with engine.begin() as conn:
        status = conn.execute(select(_out.c.status).where(_out.c.id == output_id)).scalar()
        if status is None:
            raise CatalogError(f"output {output_id} does not exist")
        if decision == ReviewDecision.approved and status != OutputStatus.succeeded.value:
            raise ReviewError(f"output {output_id} is {status}: only a made output can be approved")
        if variant is not None:
            variant = variant.lower()
            if conn.execute(select(Variant.__table__.c.id).where(Variant.__table__.c.name == variant)).scalar() is None:
                raise CatalogError(f"variant {variant!r} does not exist")
        row = {"output_id": output_id, "decision": decision, "reviewer": reviewer, "note": note or None, "variant": variant}
        decided_at = utcnow()
        review_id = conn.execute(insert(_review).values(**row, decided_at=decided_at).returning(_review.c.id)).scalar_one()
        if decision != ReviewDecision.remake:
            conn.execute(update(_out).where(_out.c.id == output_id).values(review=decision))
    return ReviewRow(id=review_id, **row, decided_at=iso_utc(decided_at))


def reviews_of(engine: Engine, output_id: int) -> list[ReviewRow]:
    """Every decision on the output, oldest first."""
    with engine.connect() as conn:
        return _records(conn.execute(select(_review).where(_review.c.output_id == output_id).order_by(_review.c.id)).all())


def remakes_after(engine: Engine, after_id: int | None, limit: int = 100) -> list[dict[str, Any]]:
    """The remakes asked for after review ``after_id`` (all, for None), oldest first, each with the image partition of
    its output's source (``image``) and the output's own variant (``output_variant``) beside the variant to make
    (None: another seed)."""
    src, var = SourceImage.__table__, Variant.__table__
    query = (
        select(_review, src.c.content_hash, src.c.filename, var.c.name.label("output_variant"))
        .join(_out, _out.c.id == _review.c.output_id)
        .join(src, src.c.id == _out.c.source_image_id)
        .join(var, var.c.id == _out.c.variant_id)
        .where(_review.c.decision == ReviewDecision.remake.value)
        .order_by(_review.c.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(_review.c.id > after_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {**record, "image": image_partition_key(row.content_hash, row.filename), "output_variant": row.output_variant}
        for record, row in zip(_records(rows), rows, strict=True)
    ]


def settle_remake(engine: Engine, review_id: int, variant: str) -> None:
    """Note on a remake asked without a variant the one made for it (another seed), once defined."""
    with engine.begin() as conn:
        conn.execute(update(_review).where(_review.c.id == review_id, _review.c.variant.is_(None)).values(variant=variant.lower()))


def _records(rows: list[Any]) -> list[ReviewRow]:
    return [ReviewRow(**{name: iso_utc(row._mapping[name]) for name in ReviewRow.field_names()}) for row in rows]
