"""How `convert` cuts a batch into runs: ranges of consecutive partitions (what one Dagster run targets)."""

from __future__ import annotations

from orchestration.convert import contiguous_ranges


def test_wanted_keys_become_runs_of_consecutive_keys_at_most_the_batch_size():
    order = [f"img{n}" for n in range(10)]
    assert contiguous_ranges(order, order, 4) == [order[0:4], order[4:8], order[8:10]]
    # images converted before sit between the new ones: a range never spans a key that is not wanted
    assert contiguous_ranges(order, ["img0", "img1", "img5", "img6", "img9"], 16) == [["img0", "img1"], ["img5", "img6"], ["img9"]]
    assert contiguous_ranges(order, [], 4) == []


def test_3d_ranges_leave_out_failed_images_and_variants_not_asked_for():
    order = [f"{image}|{variant}" for image in ("a", "b", "c") for variant in ("mobile", "desktop")]
    every = [key for key in order if not key.startswith("b|")]  # b failed in the image stages
    assert contiguous_ranges(order, every) == [["a|mobile", "a|desktop"], ["c|mobile", "c|desktop"]]
    mobile = [key for key in order if key.endswith("|mobile")]  # one variant of two: a range per image
    assert contiguous_ranges(order, mobile) == [["a|mobile"], ["b|mobile"], ["c|mobile"]]
