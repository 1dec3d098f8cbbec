"""How square each slice of an object is, read from a view's picture: the built-in's cross-section.

A front view cannot show depth, but it shows how the surface turns away from the camera across each
horizontal run of the silhouette. Where the cross-section is round, the surface near the run's ends faces
sideways, so the shading changes across the run: one end brighter under a light from the side (a slope in
``t``, the position across the run from −1 to 1), both ends darker under a light from the front (a bump,
``√(1 − t²)``). Where the object is a box seen face-on, the whole run is one flat face: its shading is even
and its silhouette's sides run straight up and down. Each run gets a squareness in [0, 1]:

- **even shading**: the slope and bump of a least-squares fit of the luminance across the runs near it
  (within a band of rows, so that a printed label or a dot does not decide), relative to their mean
  brightness, are small;
- **straight sides**: walking up and down from the run (until the object ends or a side steps, a part's
  boundary), its ends stay within a pixel or two of the ends of the runs at the same column (a sphere's sides
  curve away; a box's and a can's do not).

Both must hold: art drawn without light has even shading everywhere, and a ball drawn that way stays round
because its sides curve. The thresholds come from real objects rendered by Blender under a sun from the
upper left (docs/benchmarks.md, "A box stays a box").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from inference.runtime.ordered_sum import OrderedSum

#: the band of rows a run's shading fit looks at, as a fraction of the object's height (each way)
BAND = 0.08
#: how far a run's side test walks up and down: far enough for a circle's side to curve away by a few pixels
SIDE_BAND = 0.3
#: slope and bump (relative to the mean brightness) at which a run counts as fully round
ROUND_SLOPE = 0.04
ROUND_BUMP = 0.15
#: how far a side may wander over the band and still count as straight, in pixels, plus a fraction of the band
SIDE_PIXELS = 1.5
SIDE_FRACTION = 0.02
#: the share of the walk (up and down together, of one way's length) a side must run straight to count at all
SUPPORT = 0.5
#: a side that moves by more than this from one row to the next has a step (a part ends) or curves fast
STEP_PIXELS = 2.0
#: reweighted refits of the shading, and the residual (relative to the brightness) beyond which a pixel counts less
REFITS = 3
OUTLIER = 0.1
#: a run's smoothed squareness below this counts as round, above 1 − this as square; linear between
UNDECIDED = 0.3
#: pixels left out at each end of a run (the anti-aliased rim)
RIM = 2


def _run_ends(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each pixel of a (… × rows × cols) mask: the first and last column of the row run it lies in."""
    cols = mask.shape[-1]
    index = torch.arange(cols, device=mask.device).expand_as(mask)
    previous = F.pad(mask[..., :-1], (1, 0), value=False)
    following = F.pad(mask[..., 1:], (0, 1), value=False)
    starts = torch.where(mask & ~previous, index, torch.full_like(index, -1))
    start = torch.cummax(starts, dim=-1).values
    ends = torch.where(mask & ~following, index, torch.full_like(index, cols))
    end = torch.flip(torch.cummin(torch.flip(ends, [-1]), dim=-1).values, [-1])
    return start, end


def runs(mask: torch.Tensor, coverage: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """For each pixel of a (… × rows × cols) mask: centre and half-length of the row run it lies in,
    in pixel units (half-length 0 outside the mask).

    With ``coverage`` (the silhouette's anti-aliased alpha at the mask's size, of which ``mask`` is the part above
    one half), each end moves by the part of a pixel its edge pixels cover (the run's own end pixel and the one
    past it), so a slowly widening outline — a ball near its equator — widens its runs a little every row rather
    than a whole pixel every few rows, which left flat bands round a round prop."""
    start, end = _run_ends(mask)
    centre = (start + end).float() / 2
    length = (end - start + 1).float()
    if coverage is not None:
        cols = mask.shape[-1]

        def at(column: torch.Tensor) -> torch.Tensor:  # coverage at a column of the same row (0 off the image)
            inside = (column >= 0) & (column < cols)
            return torch.where(inside, coverage.gather(-1, column.clamp(0, cols - 1)), torch.zeros_like(coverage))

        left = (at(start) + at(start - 1) - 1).clamp(-0.5, 0.5)  # how far the left edge lies beyond the run's first pixel
        right = (at(end) + at(end + 1) - 1).clamp(-0.5, 0.5)
        length = length + left + right
        centre = centre + (right - left) / 2
    half = torch.where(mask, length / 2, torch.zeros_like(centre))
    return centre, half


def _band_sum(maps: torch.Tensor, k: int) -> torch.Tensor:
    """Sum of each (… × rows × cols) map over rows y−k … y+k, column by column."""
    kernel = torch.ones(1, 1, 2 * k + 1, 1, device=maps.device, dtype=maps.dtype)
    flat = maps.reshape(-1, 1, *maps.shape[-2:])
    return F.conv2d(F.pad(flat, (0, 0, k, k)), kernel).reshape(maps.shape)


class _PerRun:
    """Sums over each run of a (rows × cols) mask, painted back on every pixel of the run (0 outside); the runs'
    summing order (``OrderedSum``: the same shape every run on CUDA) is worked out once for all the sums taken."""

    def __init__(self, mask: torch.Tensor):
        begins = mask & ~F.pad(mask[:, :-1], (1, 0), value=False)
        label = torch.cumsum(begins.reshape(-1).long(), 0) - 1  # one label per run
        self.inside = mask.reshape(-1)
        self.label = torch.where(self.inside, label, torch.zeros_like(label))
        self.sum = OrderedSum(label[self.inside], int(begins.sum()))

    def __call__(self, values: torch.Tensor) -> torch.Tensor:
        """Per-run sums of ``values`` (… × rows × cols), painted back."""
        flat = values.reshape(values.shape[0], -1)
        sums = self.sum(flat[:, self.inside].T).T
        return (sums[:, self.label] * self.inside.to(values.dtype)).reshape(values.shape)


def _banded_fit(
    basis: torch.Tensor, luminance: torch.Tensor, weight: torch.Tensor, per_run: _PerRun, half: torch.Tensor, k: int
) -> torch.Tensor:
    """Per pixel: the weighted least-squares coefficients (rows × cols × 3) of ``luminance`` on ``basis`` over the
    runs within ``k`` rows of it that cover its column, each run counted once."""
    rows, cols = luminance.shape
    products = torch.stack([basis[i] * basis[j] * weight for i in range(3) for j in range(3)])
    targets = torch.stack([basis[i] * luminance * weight for i in range(3)])
    summed = per_run(torch.cat([products, targets])) / half.clamp(min=1.0)  # each run counted once per column it covers
    banded = _band_sum(summed, k)
    gram = banded[:9].permute(1, 2, 0).reshape(rows, cols, 3, 3) + 1e-3 * torch.eye(3, device=basis.device)
    rhs = banded[9:].permute(1, 2, 0)[..., None]
    return torch.linalg.solve(gram, rhs)[..., 0]


def squareness(rgb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per pixel of ``mask`` (rows × cols, bool): the squareness in [0, 1] of the run it lies in (0 outside).

    ``rgb``: the front view at the mask's size (rows × cols × 3, 0–1).
    """
    rows, cols = mask.shape
    device = mask.device
    filled = mask.any(1).nonzero()
    if len(filled) == 0:
        return torch.zeros(rows, cols, device=device)
    height = int(filled.max() - filled.min()) + 1
    k = max(2, round(BAND * height))
    reach = max(2, round(SIDE_BAND * height))
    centre, half = runs(mask)
    index = torch.arange(cols, device=device, dtype=torch.float32).expand(rows, cols)
    t = (index - centre) / half.clamp(min=1.0)
    start = centre - half + 0.5  # first and last pixel of the run
    end = centre + half - 0.5
    inner = mask & (index >= start + RIM) & (index <= end - RIM)

    per_run = _PerRun(mask)

    luminance = rgb @ torch.tensor([0.2126, 0.7152, 0.0722], device=device, dtype=rgb.dtype)
    bump = torch.sqrt((1.0 - t * t).clamp(min=0.0))
    basis = torch.stack([torch.ones_like(t), t, bump])  # 3 × rows × cols
    weight = inner.to(rgb.dtype)
    coef = _banded_fit(basis, luminance, weight, per_run, half, k)
    for _ in range(REFITS):  # printed marks (labels, dots) are outliers of the shading: count them less
        residual = luminance - (basis * coef.permute(2, 0, 1)).sum(0)
        scale = OUTLIER * coef[..., 0].abs().clamp(min=0.05)
        coef = _banded_fit(basis, luminance, weight / (1.0 + (residual / scale) ** 2), per_run, half, k)
    brightness = (coef[..., 0] + coef[..., 2] * torch.pi / 4).clamp(min=0.05)  # the fit's mean over a run
    slope = coef[..., 1].abs() / brightness
    rounding = coef[..., 2].clamp(min=0.0) / brightness
    evidence = torch.sqrt((slope / ROUND_SLOPE) ** 2 + (rounding / ROUND_BUMP) ** 2)
    even = (1.5 - evidence).clamp(0.0, 1.0)

    # straight sides: walking up and down from each run, its ends against the ends of the runs at the same column,
    # until the object ends or a side steps (a part boundary: a box on a narrower stand keeps its straight sides)
    allowed = SIDE_PIXELS + SIDE_FRACTION * reach
    wander = torch.zeros(rows, cols, device=device)
    kinked = torch.zeros_like(mask)
    walked = torch.zeros(rows, cols, device=device)
    for direction in (-1, 1):
        walking = mask.clone()
        before_start, before_end = start, end
        for step in range(1, reach + 1):
            shift = direction * step
            lo, hi = max(0, -shift), min(rows, rows - shift)
            there = torch.zeros_like(mask)
            there_start, there_end = start.clone(), end.clone()
            there[lo:hi] = mask[lo + shift : hi + shift]
            there_start[lo:hi] = start[lo + shift : hi + shift]
            there_end[lo:hi] = end[lo + shift : hi + shift]
            change = torch.maximum((there_start - before_start).abs(), (there_end - before_end).abs())
            if step == 1:  # a side that moves by more than a step from one row to the next curves (or is a part's edge)
                kinked |= there & (change > STEP_PIXELS)
            walking &= there & (change <= STEP_PIXELS)
            walked += walking.to(walked.dtype)
            moved = torch.maximum((there_start - start).abs(), (there_end - end).abs())
            wander = torch.maximum(wander, torch.where(walking, moved, torch.zeros_like(moved)))
            before_start, before_end = there_start, there_end
    straight = (2.0 - wander / allowed).clamp(0.0, 1.0) * (~kinked).to(rgb.dtype)
    straight = straight * (walked / (SUPPORT * reach)).clamp(max=1.0)  # a side too short to tell says nothing

    # smoothed over the band (a part changes its cross-section gradually, not row by row: a step is a ridge),
    # then one value per run, its mean over the run's pixels
    inside = mask.to(rgb.dtype)
    square = _band_sum(torch.stack([even * straight * inside, inside]), reach)
    square = square[0] / square[1].clamp(min=1.0)
    per_run_square = per_run(square[None] * inside)[0] / (2 * half).clamp(min=1.0)
    # weak evidence is none: a slice is square only where most of the band agrees
    decided = ((per_run_square - UNDECIDED) / (1.0 - 2.0 * UNDECIDED)).clamp(0.0, 1.0)
    return torch.where(mask, decided, torch.zeros_like(square))


def _rows_since_break(joined: torch.Tensor) -> torch.Tensor:
    """For each row of a (rows × cols) bool map (``joined``: this row continues the one above it): how many rows
    above it the unbroken chain reaches."""
    row = torch.arange(joined.shape[0], device=joined.device)[:, None].expand_as(joined)
    last_break = torch.cummax(torch.where(joined, torch.zeros_like(row), row), dim=0).values
    return (row - last_break).float()


def part_height(mask: torch.Tensor) -> torch.Tensor:
    """Per pixel of ``mask`` (rows × cols, bool): how many rows the part its run belongs to spans (0 outside): the
    unbroken rows above and below whose run at this column has both ends within ``STEP_PIXELS`` of the row next to
    it (a side that steps or curves fast ends a part: a box's lid, a stand under it)."""
    start, end = _run_ends(mask)
    steady = mask[1:] & mask[:-1] & ((start[1:] - start[:-1]).abs() <= STEP_PIXELS) & ((end[1:] - end[:-1]).abs() <= STEP_PIXELS)
    no = torch.zeros_like(mask[:1])
    above = _rows_since_break(torch.cat([no, steady]))
    below = _rows_since_break(torch.cat([no, steady.flip(0)])).flip(0)
    return torch.where(mask, above + below + 1, torch.zeros_like(above))
