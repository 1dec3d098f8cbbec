"""``requested_range`` on any header a client may send: a range inside the body, the whole body, or a refusal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestration.web.ranges import Unsatisfiable, requested_range

numbers = st.one_of(st.just(""), st.integers(0, 10**6).map(str))
headers = st.one_of(st.builds(lambda a, b: f"bytes={a}-{b}", numbers, numbers), st.text(max_size=30), st.none())


@given(headers, st.integers(1, 10**5))
def test_a_range_is_inside_the_body_or_none_or_refused(header, size):
    try:
        span = requested_range(header, size)
    except Unsatisfiable:
        return
    if span is not None:
        first, last = span
        assert 0 <= first <= last < size


def test_ranges_as_the_rfc_reads():
    assert requested_range("bytes=0-0", 10) == (0, 0)
    assert requested_range("bytes=-3", 10) == (7, 9)
    assert requested_range("bytes=-30", 10) == (0, 9)
    assert requested_range("bytes=4-", 10) == (4, 9)
    assert requested_range("bytes=4-99", 10) == (4, 9)
    for whole in ("bytes=0-1,3-4", "bytes=-", "items=0-1", "bytes=5-2", None):
        assert requested_range(whole, 10) is None, whole
    for past in ("bytes=10-", "bytes=10-20", "bytes=-0"):
        with pytest.raises(Unsatisfiable):
            requested_range(past, 10)
