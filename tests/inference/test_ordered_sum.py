"""Sums by index in a fixed order: what the GPU's mesh work uses so that it repeats itself run to run."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inference.mesh.ordered_sum import OrderedSum


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), count=st.integers(0, 400), size=st.integers(1, 50), shape=st.sampled_from([(), (3,), (4, 4)]))
def test_the_ranked_sum_adds_as_index_add_does_on_the_cpu_bit_for_bit(seed, count, size, shape):
    rng = np.random.default_rng(seed)
    index = torch.from_numpy(rng.integers(0, size, count))
    values = torch.from_numpy(rng.normal(0, 1, (count, *shape)) * 10.0 ** rng.integers(-8, 8, (count, *shape)))
    expected = torch.zeros((size, *shape), dtype=values.dtype).index_add_(0, index, values)
    assert torch.equal(OrderedSum(index, size, ranked=True)(values), expected)
    start = torch.from_numpy(rng.normal(0, 1, (size, *shape)))
    assert torch.equal(OrderedSum(index, size, ranked=True)(values, into=start.clone()), start.clone().index_add_(0, index, values))


def test_each_row_adds_its_contributions_in_the_order_given():
    """Float addition depends on its order: 1e16 + 1 − 1e16 is 0 in that order and 1 in another."""
    index = torch.tensor([2, 0, 2, 2, 0])
    values = torch.tensor([1e16, 5.0, 1.0, -1e16, 7.0], dtype=torch.float64)
    summed = OrderedSum(index, 3, ranked=True)(values)
    assert summed.tolist() == [12.0, 0.0, (1e16 + 1.0) - 1e16]
    assert OrderedSum(torch.tensor([2, 2, 2]), 3, ranked=True)(torch.tensor([1.0, -1e16, 1e16], dtype=torch.float64))[2] == 0.0
    assert OrderedSum(torch.tensor([2, 2, 2]), 3, ranked=True)(torch.tensor([-1e16, 1e16, 1.0], dtype=torch.float64))[2] == 1.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here; run on the GPU machine")
def test_on_cuda_the_same_sums_come_out_every_time_and_as_the_cpu_adds_them():
    rng = np.random.default_rng(0)
    index = torch.from_numpy(rng.integers(0, 1000, 200_000))
    values = torch.from_numpy(rng.normal(0, 1, (200_000, 4, 4)))
    on_cpu = torch.zeros((1000, 4, 4), dtype=values.dtype).index_add_(0, index, values)
    plan = OrderedSum(index.cuda(), 1000)
    first = plan(values.cuda())
    for _ in range(3):
        assert torch.equal(plan(values.cuda()), first)
    assert torch.equal(first.cpu(), on_cpu)
