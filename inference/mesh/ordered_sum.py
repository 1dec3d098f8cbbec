"""Sums by index in a fixed order, so that the GPU's mesh work repeats itself run to run.

On CUDA, ``index_add_`` adds floats with atomics in whatever order the threads arrive, so a vertex's quadric or a
smoothing step's mean differs in its last bits from run to run, and the decimation's near-ties fall either way: the
same surface decimated twice on one GPU came out different (docs/benchmarks.md, "Throughput per node"). Here the
contributions are sorted by their index (a stable sort: each index keeps its contributions in the order they
came), numbered within their index, and added rank by rank — the first contribution of every index at once, then
the second, … — so each index adds its contributions in the order given, as ``index_add_`` does on the CPU. The
rounds are as many as the most contributions any one index has (a vertex's faces: about six on a surface, rarely
more than twenty). On the CPU ``index_add_`` already adds in that order and is used as it is.
"""

from __future__ import annotations

import itertools

import torch


class OrderedSum:
    """``OrderedSum(index, size)(values)``: the sums of ``values`` (len(index), …) by ``index`` into ``size`` rows,
    each row's contributions added in the order given (``into``: added to that tensor, in place, and returned). Build
    it once for an index used many times."""

    def __init__(self, index: torch.Tensor, size: int, *, ranked: bool | None = None):
        self.index = index
        self.size = size
        self.ranked = index.device.type != "cpu" if ranked is None else ranked
        if not self.ranked:
            return
        order = torch.argsort(index, stable=True)
        sorted_index = index[order]
        rank = torch.arange(len(index), device=index.device) - torch.searchsorted(sorted_index, sorted_index)
        by_rank = torch.argsort(rank, stable=True)
        self.rows = sorted_index[by_rank]  # rank by rank, each rank's rows distinct
        self.sources = order[by_rank]  # which contribution each of them is
        counts = torch.bincount(rank) if len(rank) else torch.zeros(0, dtype=torch.long, device=index.device)
        self.bounds = [0, *torch.cumsum(counts, 0).tolist()]

    def __call__(self, values: torch.Tensor, into: torch.Tensor | None = None) -> torch.Tensor:
        out = torch.zeros((self.size, *values.shape[1:]), dtype=values.dtype, device=values.device) if into is None else into
        if not self.ranked:
            return out.index_add_(0, self.index, values)
        for start, end in itertools.pairwise(self.bounds):
            rows = self.rows[start:end]
            out[rows] += values[self.sources[start:end]]  # no row twice in one rank: a plain, ordered add
        return out
