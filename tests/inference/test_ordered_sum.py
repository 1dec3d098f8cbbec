"""Sums by index in a fixed order: what the GPU's work uses so that it repeats itself run to run."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inference.runtime.ordered_sum import OrderedSum


def pairwise(values: list[float]) -> float:
    """The fixed tree the sum follows: neighbours first, then pairs of pairs."""
    values, stride = list(values), 1
    while stride < len(values):
        for place in range(0, len(values) - stride, 2 * stride):
            values[place] += values[place + stride]
        stride *= 2
    return values[0] if values else 0.0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), count=st.integers(0, 400), size=st.integers(1, 50), shape=st.sampled_from([(), (3,), (4, 4)]))
def test_the_tree_sum_is_each_rows_pairwise_sum_of_its_contributions_in_order(seed, count, size, shape):
    rng = np.random.default_rng(seed)
    index = torch.from_numpy(rng.integers(0, size, count))
    values = torch.from_numpy(rng.normal(0, 1, (count, *shape)) * 10.0 ** rng.integers(-8, 8, (count, *shape)))
    summed = OrderedSum(index, size, tree=True)(values)
    flat = values.reshape(count, int(np.prod(shape)))
    for row in range(size):
        mine = flat[index == row]
        expected = [pairwise(mine[:, k].tolist()) for k in range(flat.shape[1])]
        assert summed[row].reshape(-1).tolist() == expected  # bit for bit
    assert torch.allclose(summed, torch.zeros_like(summed).index_add_(0, index, values), rtol=1e-9, atol=1e-6)
    start = torch.from_numpy(rng.normal(0, 1, (size, *shape)))
    assert torch.equal(OrderedSum(index, size, tree=True)(values, into=start.clone()), start + summed)


def test_the_order_of_the_additions_is_fixed_and_follows_the_order_given():
    """Float addition depends on its order: 1e16 + 1 − 1e16 is 0 in that order, 1 in another."""
    index = torch.tensor([2, 0, 2, 2, 0])
    values = torch.tensor([1e16, 5.0, 1.0, -1e16, 7.0], dtype=torch.float64)
    assert OrderedSum(index, 3, tree=True)(values).tolist() == [12.0, 0.0, (1e16 + 1.0) + -1e16]
    three = torch.tensor([2, 2, 2])
    assert OrderedSum(three, 3, tree=True)(torch.tensor([1.0, -1e16, 1e16], dtype=torch.float64))[2] == 0.0
    assert OrderedSum(three, 3, tree=True)(torch.tensor([-1e16, 1e16, 1.0], dtype=torch.float64))[2] == 1.0
    assert OrderedSum(torch.tensor([], dtype=torch.long), 2, tree=True)(torch.zeros(0)).tolist() == [0.0, 0.0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here; run on the GPU machine")
def test_on_cuda_the_same_sums_come_out_every_time_and_as_on_the_cpu():
    rng = np.random.default_rng(0)
    index = torch.from_numpy(rng.integers(0, 1000, 200_000))
    index[:30_000] = 7  # one row with many contributions
    values = torch.from_numpy(rng.normal(0, 1, (200_000, 4, 4)))
    plan = OrderedSum(index.cuda(), 1000)
    first = plan(values.cuda())
    for _ in range(3):
        assert torch.equal(OrderedSum(index.cuda(), 1000)(values.cuda()), first)
    assert torch.equal(first.cpu(), OrderedSum(index, 1000, tree=True)(values))
