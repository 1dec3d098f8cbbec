import pytest

from catalog import (
    CatalogError,
    LabelError,
    define_variant,
    edit_labels,
    find,
    list_collections,
    list_variants,
    record_output,
    record_source,
    show,
)


def add_image(engine, n, *, tags=(), collections=()):
    return record_source(
        engine,
        content_hash=f"{n:064x}",
        filename=f"img{n}.png",
        width=64,
        height=32,
        mode="RGBA",
        byte_size=100 + n,
        blob_key=f"sources/{n}.png",
        tags=tags,
        collections=collections,
        origin="style-v3",
    ).id


def ids(records):
    return [r["id"] for r in records]


def test_same_content_is_recorded_once_and_gains_new_labels(engine):
    first = record_source(
        engine, content_hash="f" * 64, filename="a.png", width=4, height=4, mode="RGB", byte_size=10, blob_key="k", tags=["hero"]
    )
    again = record_source(
        engine,
        content_hash="f" * 64,
        filename="copy-of-a.png",
        width=4,
        height=4,
        mode="RGB",
        byte_size=10,
        blob_key="k",
        tags=["Approved"],
        collections=["toybox-v3"],
    )
    assert first.created and not again.created and first.id == again.id
    record = show(engine, first.id)
    assert record["filename"] == "a.png"
    assert record["tags"] == ["approved", "hero"]
    assert record["collections"] == ["toybox-v3"]


def test_find_combines_tags_collections_variants_and_status(engine):
    a = add_image(engine, 1, tags=["hero", "approved"], collections=["toybox-v3"])
    b = add_image(engine, 2, tags=["hero"], collections=["toybox-v3"])
    c = add_image(engine, 3, tags=["prop", "approved"], collections=["dungeon"])
    d = add_image(engine, 4)
    mobile = define_variant(engine, "mobile", {"backend": "builtin", "target_faces": 5000})
    hero = define_variant(engine, "hero", {"backend": "builtin", "target_faces": 60000, "texture_size": 2048})
    record_output(engine, a, mobile, status="succeeded", face_count=4990, glb_key="outputs/a.glb")
    record_output(engine, a, hero, status="failed", error="out of memory")
    record_output(engine, b, mobile, status="failed", error="empty silhouette")
    record_output(engine, c, hero, status="succeeded")

    assert ids(find(engine)) == [d, c, b, a]  # newest first
    assert ids(find(engine, tags=["hero"])) == [b, a]
    assert ids(find(engine, tags=["hero", "approved"])) == [a]
    assert ids(find(engine, any_tags=["approved", "prop"])) == [c, a]
    assert ids(find(engine, tags=["approved"], collection="toybox-v3")) == [a]
    assert ids(find(engine, collection="dungeon")) == [c]
    assert ids(find(engine, variant="mobile")) == [b, a]
    assert ids(find(engine, status="failed")) == [b, a]
    assert ids(find(engine, variant="mobile", status="succeeded")) == [a]
    assert find(engine, tags=["never-used"]) == []
    assert find(engine, collection="no-such-collection") == []
    assert find(engine, variant="no-such-variant") == []

    (record,) = find(engine, tags=["hero"], variant="hero")
    assert record["id"] == a
    (output,) = record["outputs"]  # only the variant asked for
    assert output["variant"] == "hero" and output["status"] == "failed" and output["error"] == "out of memory"
    full = show(engine, a)
    assert [o["variant"] for o in full["outputs"]] == ["hero", "mobile"]
    mobile_output = full["outputs"][1]
    assert mobile_output["face_count"] == 4990
    assert mobile_output["blob_keys"] == {"glb": "outputs/a.glb", "obj": None, "preview": None}


def test_find_pages_through_results_by_id(engine):
    made = [add_image(engine, n, tags=["bulk"]) for n in range(1, 8)]
    page1 = find(engine, tags=["bulk"], limit=3)
    page2 = find(engine, tags=["bulk"], limit=3, before_id=page1[-1]["id"])
    page3 = find(engine, tags=["bulk"], limit=3, before_id=page2[-1]["id"])
    assert ids(page1) + ids(page2) + ids(page3) == sorted(made, reverse=True)
    with pytest.raises(ValueError, match="limit"):
        find(engine, limit=0)


def test_a_summary_is_the_full_record_less_what_only_an_outputs_own_page_shows(engine):
    a = add_image(engine, 1, tags=["hero"], collections=["toybox-v3"])
    b = add_image(engine, 2, tags=["hero"])
    mobile = define_variant(engine, "mobile", {"backend": "builtin", "target_faces": 5000})
    hero = define_variant(engine, "hero", {"backend": "builtin"})
    record_output(engine, a, mobile, status="succeeded", face_count=4990, glb_key="outputs/a.glb", preview_key="previews/a.png",
                  parameters={"seed": 7}, timings={"mesh": 1.5})  # fmt: skip
    record_output(engine, a, hero, status="failed", error="out of memory")
    record_output(engine, b, hero, status="running")
    edit_labels(engine, "tag", a, add=["approved"], variant="mobile")

    for filters in ({"tags": ["hero"]}, {"tags": ["hero"], "variant": "hero"}, {"status": "succeeded"}, {"collection": "toybox-v3"}):
        full, summary = find(engine, **filters), find(engine, summary=True, **filters)
        assert ids(summary) == ids(full) and ids(full)
        for long, short in zip(full, summary, strict=True):
            assert {k: v for k, v in long.items() if k != "outputs"} == {k: v for k, v in short.items() if k != "outputs"}
            kept = ("id", "status", "review", "variant", "blob_keys", "tags", "collections")
            assert [{k: o[k] for k in kept} for o in long["outputs"]] == short["outputs"]
    (record,) = find(engine, summary=True, tags=["approved"])
    assert record["outputs"][1] == {
        "id": record["outputs"][1]["id"], "status": "succeeded", "review": None, "variant": "mobile", "tags": ["approved"],
        "collections": [],
        "blob_keys": {"glb": "outputs/a.glb", "obj": None, "preview": "previews/a.png"},
    }  # fmt: skip


def test_labels_on_outputs_match_their_source_image(engine):
    a = add_image(engine, 1)
    b = add_image(engine, 2)
    mobile = define_variant(engine, "mobile", {"backend": "builtin"})
    hero = define_variant(engine, "hero", {"backend": "builtin"})
    record_output(engine, a, mobile, status="succeeded")
    record_output(engine, a, hero, status="succeeded")
    record_output(engine, b, hero, status="succeeded")
    assert edit_labels(engine, "tag", a, add=["approved"], variant="hero") == ["approved"]

    assert ids(find(engine, tags=["approved"])) == [a]
    assert ids(find(engine, tags=["approved"], variant="hero")) == [a]
    # the approved output is the hero one, so the mobile outputs of `a` do not match
    assert find(engine, tags=["approved"], variant="mobile") == []
    record = show(engine, a)
    assert record["tags"] == []
    assert {o["variant"]: o["tags"] for o in record["outputs"]} == {"hero": ["approved"], "mobile": []}


def test_edit_labels_adds_removes_and_validates(engine):
    a = add_image(engine, 1, tags=["wip"])
    assert edit_labels(engine, "tag", a, add=["approved", "hero"], remove=["wip"]) == ["approved", "hero"]
    assert edit_labels(engine, "collection", a, add=["toybox-v3"]) == ["toybox-v3"]
    assert edit_labels(engine, "tag", a, remove=["not-there"]) == ["approved", "hero"]
    with pytest.raises(LabelError, match="'has space'"):
        edit_labels(engine, "tag", a, add=["has space"])
    with pytest.raises(LabelError):
        edit_labels(engine, "tag", a, add=["x" * 65])
    with pytest.raises(CatalogError, match="source image 999"):
        edit_labels(engine, "tag", 999, add=["x"])
    with pytest.raises(CatalogError, match="no output for variant 'hero'"):
        edit_labels(engine, "tag", a, add=["x"], variant="hero")
    assert show(engine, a)["tags"] == ["approved", "hero"]


def test_collections_are_counted_and_outputs_are_updated_in_place(engine):
    a = add_image(engine, 1, collections=["toybox-v3"])
    add_image(engine, 2, collections=["toybox-v3", "dungeon"])
    v = define_variant(engine, "desktop", {"backend": "builtin", "target_faces": 20000})
    first = record_output(engine, a, v, status="running", dagster_run_id="run-1")
    edit_labels(engine, "collection", a, add=["toybox-v3"], variant="desktop")
    second = record_output(engine, a, v, status="succeeded", face_count=19876, timings={"mesh": 1.5})
    assert first == second
    (output,) = show(engine, a)["outputs"]
    assert output["status"] == "succeeded" and output["dagster_run_id"] == "run-1"
    assert output["timings"] == {"mesh": 1.5}
    assert {c["name"]: (c["images"], c["outputs"]) for c in list_collections(engine)} == {
        "dungeon": (1, 0),
        "toybox-v3": (2, 1),
    }
    with pytest.raises(ValueError):
        record_output(engine, a, v, status="exploded")

    with pytest.raises(CatalogError):
        record_output(engine, 12345, v, status="pending")


def test_a_collection_counts_the_outputs_made_of_its_images(engine):
    """`convert --collection samples` files the images; `catalog collections` said "0 outputs" right after six were
    made. The outputs made of its images count, once each, with outputs filed on their own; failed ones do not."""
    a = add_image(engine, 1, collections=["samples"])
    b = add_image(engine, 2, collections=["samples"])
    c = add_image(engine, 3)
    mobile, desktop = (define_variant(engine, n, {"backend": "builtin"}) for n in ("mobile", "desktop"))
    for image in (a, b):
        record_output(engine, image, mobile, status="succeeded")
    record_output(engine, a, desktop, status="succeeded")
    record_output(engine, b, desktop, status="failed")
    record_output(engine, c, mobile, status="succeeded")
    edit_labels(engine, "collection", a, add=["samples"], variant="mobile")  # filed itself too: still one output
    edit_labels(engine, "collection", c, add=["samples"], variant="mobile")  # an output filed without its image
    assert {r["name"]: (r["images"], r["outputs"]) for r in list_collections(engine)} == {"samples": (2, 4)}


def test_variants_are_stored_and_redefined(engine):
    define_variant(engine, "Mobile", {"backend": "builtin", "preset": "mobile", "target_faces": 5000, "seed": 1, "lods": 2})
    define_variant(engine, "mobile", {"backend": "builtin", "preset": "mobile", "target_faces": 4000})
    (variant,) = list_variants(engine)
    assert variant["name"] == "mobile" and variant["target_faces"] == 4000 and variant["seed"] is None
    assert variant["params"] == {"backend": "builtin", "preset": "mobile", "target_faces": 4000}  # replaced whole, not merged


def test_bulk_recording_crosses_batches_and_reports_what_it_created(engine):
    from catalog import NewSource, record_sources

    def source(n, **labels):
        return NewSource(f"{n:064x}", f"b{n}.png", 8, 8, "RGB", 10, f"sources/{n}.png", **labels)

    add_image(engine, 5)  # already there before the bulk call
    batch = [source(n, tags=("bulk",), collections=(f"c{n % 3}",)) for n in range(2500)] + [source(7)]
    records = record_sources(engine, batch)
    assert len(records) == 2501
    assert sum(r.created for r in records) == 2499  # #5 existed, and #7 is in the batch twice
    assert records[5].id == show(engine, records[5].id)["id"] and not records[5].created
    assert records[7].id == records[-1].id
    assert len(find(engine, tags=["bulk"], limit=1000)) == 1000
    assert {c["name"]: c["images"] for c in list_collections(engine)} == {"c0": 834, "c1": 833, "c2": 833}


def test_rematerialising_updates_the_output_and_keeps_earlier_attempts(engine):
    from catalog import attempts_of, finish_attempt, start_attempt

    a = add_image(engine, 1)
    v = define_variant(engine, "mobile", {"backend": "builtin", "target_faces": 5000})
    output, first = start_attempt(engine, a, v, parameters={"steps": 30}, dagster_run_id="run-1")
    assert show(engine, a)["outputs"][0]["status"] == "running"
    finish_attempt(engine, output, first, status="failed", error="no object found")
    again, second = start_attempt(engine, a, v, parameters={"steps": 40}, dagster_run_id="run-2")
    finish_attempt(engine, again, second, status="succeeded", face_count=5001, glb_key="outputs/x.glb", timings={"mesh": 1.0})
    assert (again, first, second) == (output, 1, 2)
    (current,) = show(engine, a)["outputs"]
    assert current["status"] == "succeeded" and current["error"] is None and current["face_count"] == 5001
    assert current["dagster_run_id"] == "run-2" and current["parameters"] == {"steps": 40}
    history = attempts_of(engine, output)
    assert [(h["attempt"], h["status"], h["error"], h["dagster_run_id"]) for h in history] == [
        (1, "failed", "no object found", "run-1"),
        (2, "succeeded", None, "run-2"),
    ]
