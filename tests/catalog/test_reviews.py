"""Review decisions: who decided what and when, the latest approval or rejection as a search filter, remakes."""

import pytest

from catalog import (
    CatalogError,
    ReviewError,
    define_variant,
    find,
    record_output,
    remakes_after,
    review_output,
    reviews_of,
    settle_remake,
    show,
)
from catalog.keys import image_partition_key
from tests.catalog.test_catalog import add_image, ids


def made(engine, n, variant_id, status="succeeded", collections=("toybox",)):
    source = add_image(engine, n, collections=collections)
    return source, record_output(engine, source, variant_id, status=status, glb_key=f"outputs/{n}.glb")


def test_decisions_are_kept_with_who_and_when_and_the_latest_filters_searches(engine):
    desktop = define_variant(engine, "desktop", {"backend": "builtin", "target_faces": 20000})
    a, out_a = made(engine, 1, desktop)
    b, out_b = made(engine, 2, desktop)
    c, _ = made(engine, 3, desktop, collections=("dungeon",))

    first = review_output(engine, out_a, "rejected", "ana", note="the handle is gone")
    assert (first["decision"], first["reviewer"], first["note"]) == ("rejected", "ana", "the handle is gone") and first["decided_at"]
    review_output(engine, out_a, "approved", "  bo ")  # changed their mind: the latest decision stands
    review_output(engine, out_b, "rejected", "ana")
    assert [(r["decision"], r["reviewer"]) for r in reviews_of(engine, out_a)] == [("rejected", "ana"), ("approved", "bo")]

    assert ids(find(engine, collection="toybox", review="approved")) == [a]
    assert ids(find(engine, collection="toybox", review="rejected")) == [b]
    assert ids(find(engine, review="unreviewed")) == [c]
    (record,) = find(engine, review="approved", summary=True)
    assert [o["review"] for o in record["outputs"]] == ["approved"]
    assert show(engine, b)["outputs"][0]["review"] == "rejected"
    with pytest.raises(ValueError, match="review 'liked': use one of approved, rejected, unreviewed"):
        find(engine, review="liked")


def test_bad_decisions_are_refused_by_name_and_nothing_is_recorded(engine):
    desktop = define_variant(engine, "desktop", {"backend": "builtin"})
    _, made_id = made(engine, 1, desktop)
    _, failed_id = made(engine, 2, desktop, status="failed")
    with pytest.raises(ReviewError, match="output .* is failed: only a made output can be approved"):
        review_output(engine, failed_id, "approved", "ana")
    with pytest.raises(ReviewError, match="decision 'ok'"):
        review_output(engine, made_id, "ok", "ana")
    with pytest.raises(ReviewError, match="reviewer ''"):
        review_output(engine, made_id, "approved", "   ")
    with pytest.raises(ReviewError, match="the note is 2,001 characters"):
        review_output(engine, made_id, "rejected", "ana", note="x" * 2001)
    with pytest.raises(ReviewError, match="only a remake names a variant"):
        review_output(engine, made_id, "rejected", "ana", variant="desktop")
    with pytest.raises(CatalogError, match="variant 'hero' does not exist"):
        review_output(engine, made_id, "remake", "ana", variant="hero")
    with pytest.raises(CatalogError, match="output 999 does not exist"):
        review_output(engine, 999, "rejected", "ana")
    assert reviews_of(engine, made_id) == [] and reviews_of(engine, failed_id) == []
    assert review_output(engine, failed_id, "rejected", "ana")["decision"] == "rejected"  # a failed output may be rejected


def test_remakes_are_read_in_order_after_a_cursor_with_their_image_partition(engine):
    desktop = define_variant(engine, "desktop", {"backend": "builtin", "seed": 0})
    define_variant(engine, "desktop-seed1", {"backend": "builtin", "seed": 1})
    source, output = made(engine, 1, desktop)
    review_output(engine, output, "rejected", "ana")  # not a remake: not read
    first = review_output(engine, output, "remake", "ana", variant="DESKTOP-SEED1")
    second = review_output(engine, output, "remake", "bo")  # another seed: the sensor picks the variant
    key = image_partition_key(show(engine, source)["content_hash"], "img1.png")
    assert [(r["id"], r["variant"], r["image"], r["reviewer"], r["output_variant"]) for r in remakes_after(engine, None)] == [
        (first["id"], "desktop-seed1", key, "ana", "desktop"),
        (second["id"], None, key, "bo", "desktop"),
    ]
    assert [r["id"] for r in remakes_after(engine, first["id"])] == [second["id"]]
    settle_remake(engine, second["id"], "desktop-seed1")
    settle_remake(engine, first["id"], "desktop")  # a remake that named its variant keeps it
    assert [r["variant"] for r in reviews_of(engine, output)][1:] == ["desktop-seed1", "desktop-seed1"]
    assert show(engine, source)["outputs"][0]["review"] == "rejected"  # a remake leaves the decision as it was
