"""De-lighting: the light the views were drawn under, estimated and divided out of the baked colours.

A base-colour map must hold albedo: an engine lights the asset itself, and light already painted into the
texture is then applied twice. The views' light is modelled as diffuse shading that depends on the surface
normal alone — second-order spherical harmonics, which hold a clamped-cosine light plus ambient to a few
per cent (Ramamoorthi and Hanrahan, 2001) — fitted to the luminance of the baked texels against their
normals by iteratively reweighted least squares, so that the texture's own patterns count as outliers
rather than light. Dividing by the fitted shading, scaled so that the most lit surface keeps its colour,
leaves the albedo. Where the fit finds no light (flat-shaded art), the shading is nearly constant and the
colours barely change.
"""

from __future__ import annotations

import torch

#: Rec. 709 luma weights: the light is fitted to brightness, not hue (a white light)
LUMA = (0.2126, 0.7152, 0.0722)
#: reweighting rounds (Tukey's biweight on the residuals, scaled by their median absolute deviation)
ROUNDS = 6
TUKEY = 4.685
#: shading is never taken below this share of its most lit value: a surface in the views' shadow would
#: otherwise be brightened from little more than noise
MIN_SHADING = 0.35
#: how bright the albedo comes out (light and albedo are known together only up to a scale): ``mean`` keeps the seen
#: surface's mean luminance; ``lit`` keeps the colour of its most lit surface (``LIT_PERCENTILE``). Under Blender's
#: light (docs/benchmarks.md, "Whole objects"), ``lit`` scored 1.4 dB better than the kept texture in front on average but
#: 6.7 dB worse on dark, glossy art, whose most lit surface is a highlight; ``mean`` was at worst 3.4 dB below it
EXPOSURE = "mean"
#: the most lit value is this percentile of the fitted shading over the texels (not its maximum: a few
#: texels where the fit runs high must not darken the whole texture)
LIT_PERCENTILE = 0.99
#: the fit reads at most this many samples, evenly strided (the texels come in raster order, so they stay spread
#: over the atlas): nine coefficients need no more, and the fit's medians cost ~6× less at 1024² (docs/benchmarks.md, "Generation speed")
FIT_SAMPLES = 65_536


def sh_basis(normals: torch.Tensor) -> torch.Tensor:
    """The nine real spherical harmonics of bands 0–2 at unit ``normals`` (N, 3) → (N, 9), unnormalised
    (the fit absorbs the constants)."""
    x, y, z = normals.unbind(dim=1)
    return torch.stack([torch.ones_like(x), x, y, z, x * y, y * z, x * z, x * x - y * y, 3 * z * z - 1], dim=1)


def fit_shading(colours: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """The coefficients (9,) of the shading that best explains the luminance of ``colours`` (N, 3,
    0–1 as stored) at ``normals`` (N, 3), robust to the texture's own variation."""
    luminance = colours @ torch.tensor(LUMA, dtype=colours.dtype, device=colours.device)
    basis = sh_basis(normals)
    robust = torch.ones_like(luminance)
    for _ in range(ROUNDS):
        w = robust.sqrt()[:, None]
        coefficients = torch.linalg.lstsq(basis * w, luminance[:, None] * w).solution[:, 0]
        residual = luminance - basis @ coefficients
        scale = 1.4826 * (residual - residual.median()).abs().median().clamp(min=1e-4)
        robust = (1 - (residual / (TUKEY * scale)).square()).clamp(min=0).square()
    return coefficients


def relative_shading(colours: torch.Tensor, normals: torch.Tensor, fit_mask: torch.Tensor | None = None):  # noqa: ANN201
    """The views' shading fitted on the ``fit_mask`` samples (default: all) of ``colours`` (N, 3, 0–1) at ``normals``,
    as a function of unit normals → (M,): the shading each surface takes, such that ``colours / shading`` is the
    albedo. Its shape is the fitted light's, from MIN_SHADING to 1 on the most lit surface; its scale keeps the
    seen surface's mean luminance (``exposure``). ``None`` when the fit finds no light (flat-shaded art)."""
    fit_on = torch.arange(len(colours), device=colours.device) if fit_mask is None else fit_mask.nonzero().squeeze(1)
    if len(fit_on) > FIT_SAMPLES:
        fit_on = fit_on[torch.linspace(0, len(fit_on) - 1, FIT_SAMPLES, device=colours.device).long()]
    if not len(fit_on):
        return None
    coefficients = fit_shading(colours[fit_on], normals[fit_on])
    fitted = sh_basis(normals[fit_on]) @ coefficients
    lit = torch.quantile(fitted, LIT_PERCENTILE)
    if not bool(lit > 1e-3):  # no light to speak of: leave the colours as they are
        return None
    scale = 1.0
    if EXPOSURE == "mean":
        seen = colours[fit_on] @ torch.tensor(LUMA, dtype=colours.dtype, device=colours.device)
        scale = float(seen.mean() / (seen / (fitted / lit).clamp(MIN_SHADING, 1.0)).mean().clamp(min=1e-6))
    return lambda at: ((sh_basis(at) @ coefficients) / lit).clamp(MIN_SHADING, 1.0) / scale


def divide_shading(colours: torch.Tensor, normals: torch.Tensor, shading) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: ANN001
    """``colours`` (N, 3) at ``normals`` with ``shading`` (``relative_shading``'s function, or None: no light)
    divided out, and the shading (N,) as divided."""
    if shading is None:
        return colours, torch.ones(len(colours), dtype=colours.dtype, device=colours.device)
    divided = shading(normals)
    return (colours / divided[:, None]).clamp(0.0, 1.0), divided


def delit(colours: torch.Tensor, normals: torch.Tensor, fit_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``colours`` (N, 3, 0–1) with the shading fitted on the ``fit_mask`` samples (default: all) divided
    out, and that shading (N,) as divided (``relative_shading``)."""
    return divide_shading(colours, normals, relative_shading(colours, normals, fit_mask))
