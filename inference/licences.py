"""Which models a generation uses, under which licences, and whether the studio's use allows them.

The studio says how it uses Meshmill's output with two settings, read from the environment:
``MESHMILL_TERRITORY`` (where the work is done or the output used: EU, UK, KR, US, …) and
``MESHMILL_COMMERCIAL=1`` (the output is used commercially). With them set, a model whose licence
excludes that territory, forbids commercial use, or cannot say (a generic model server) is refused
before any work, with a message that names it. Unset, nothing is refused; every output still records
the licences of the models that made it. The table reflects the licences as published; it is not
legal advice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from inference.backends import backend_spec
from inference.images.models import LEARNED_UPSCALERS, REMBG_LICENCES
from inference.licence_terms import MESHMILL, TERRITORIES, Licence
from inference.params import GenerationParams

TERRITORY_ENV = "MESHMILL_TERRITORY"
COMMERCIAL_ENV = "MESHMILL_COMMERCIAL"


class LicenceRefused(ValueError):
    """A model's licence does not allow the studio's use; the message names the model, the licence and why."""


@dataclass(frozen=True)
class StudioUse:
    territory: str | None = None
    commercial: bool = False

    @classmethod
    def from_environment(cls) -> StudioUse:
        territory = os.environ.get(TERRITORY_ENV, "").strip().upper() or None
        if territory is not None and territory not in TERRITORIES:
            raise ValueError(f"{TERRITORY_ENV}={territory!r} is not a territory Meshmill knows: use one of {', '.join(TERRITORIES)}")
        return cls(territory, os.environ.get(COMMERCIAL_ENV, "").strip().lower() in ("1", "true", "yes"))


def models_used(params: GenerationParams) -> dict[str, tuple[str, Licence]]:
    """Role (shape, upscaler, background) → (model name, licence), for the models these parameters run."""
    used = {"shape": (params.backend, backend_spec(params.backend).licence)}
    if params.upscale > 1:
        upscaler = LEARNED_UPSCALERS.get(params.upscaler)
        used["upscaler"] = (params.upscaler, upscaler.licence if upscaler else MESHMILL)
    if params.remove_background:
        used["background"] = (params.background, REMBG_LICENCES.get(params.background, MESHMILL))
    return used


def licence_record(params: GenerationParams) -> dict[str, dict[str, object]]:
    """What an output stores: for each role, the model and its licence terms."""
    return {role: {"model": name, **licence.as_dict()} for role, (name, licence) in models_used(params).items()}


def refusal(name: str, licence: Licence, use: StudioUse) -> str | None:
    """Why ``use`` may not run the model ``name`` under ``licence``, or None when it may."""
    if use.territory and use.territory in licence.excluded_territories:
        return f"{name}: its licence ({licence.name}) excludes {use.territory} ({TERRITORY_ENV})"
    if use.commercial and licence.commercial is False:
        return f"{name}: its licence ({licence.name}) does not allow commercial use ({COMMERCIAL_ENV}=1)"
    if use.commercial and licence.commercial is None:
        return f"{name}: commercial use ({COMMERCIAL_ENV}=1) cannot be checked — {licence.conditions or licence.name}"
    return None


def check_licences(params: GenerationParams, use: StudioUse | None = None) -> None:
    """Raise ``LicenceRefused`` naming every model of ``params`` the studio's use (default: the environment's) may not run."""
    use = use or StudioUse.from_environment()
    reasons = [r for name, licence in models_used(params).values() if (r := refusal(name, licence, use))]
    if reasons:
        raise LicenceRefused("refused before any work: " + "; ".join(reasons))
