"""Sums by index in a fixed order, so that the GPU's work repeats itself run to run.

On CUDA, ``index_add_`` adds floats with atomics in whatever order the threads arrive, so a vertex's quadric or a
smoothing step's mean differs in its last bits from run to run, and the decimation's near-ties fall either way: the
same surface decimated twice on one GPU came out different (docs/benchmarks.md, "Throughput per node"). Here the
contributions are sorted by their index (a stable sort: each index keeps its contributions in the order they came)
and each index's run of them is summed pairwise in a fixed tree — neighbours first, then pairs of pairs — all
indices at once, so a sum of a thousand contributions takes ten vectorised steps and comes out the same every time.
On the CPU ``index_add_`` adds in the order given, one after another, and is used as it is.
"""

from __future__ import annotations

import torch


class OrderedSum:
    """``OrderedSum(index, size)(values)``: the sums of ``values`` (len(index), …) by ``index`` into ``size`` rows,
    the same every run (``into``: added to that tensor, in place, and returned). Build it once for an index used
    many times. ``tree``: sum pairwise in a fixed order (default: on any device but the CPU)."""

    def __init__(self, index: torch.Tensor, size: int, *, tree: bool | None = None):
        self.index = index
        self.size = size
        self.tree = index.device.type != "cpu" if tree is None else tree
        if not self.tree:
            return
        self.order = torch.argsort(index, stable=True)
        sorted_index = index[self.order]
        first = torch.searchsorted(sorted_index, sorted_index)
        rank = torch.arange(len(index), device=index.device) - first  # place within its index's run
        length = torch.searchsorted(sorted_index, sorted_index, right=True) - first
        self.steps = []  # per step: the places that take in the partial sum ``stride`` places after them
        stride, longest = 1, int(length.max()) if len(index) else 0
        while stride < longest:
            self.steps.append(((rank % (2 * stride) == 0) & (rank + stride < length)).nonzero().squeeze(1))
            stride *= 2
        self.heads = (rank == 0).nonzero().squeeze(1)  # where each run's sum ends up
        self.rows = sorted_index[self.heads]

    def __call__(self, values: torch.Tensor, into: torch.Tensor | None = None) -> torch.Tensor:
        out = torch.zeros((self.size, *values.shape[1:]), dtype=values.dtype, device=values.device) if into is None else into
        if not self.tree:
            return out.index_add_(0, self.index, values)
        partial = values[self.order]
        for step, places in enumerate(self.steps):
            partial[places] += partial[places + (1 << step)]  # the places read are not written in this step
        out[self.rows] += partial[self.heads]  # one head per row
        return out
