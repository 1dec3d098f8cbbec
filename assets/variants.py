"""A stored variant's generation parameters. Light on purpose (the catalog and the parameter model only, no Dagster,
no torch): `meshmill variant list` reads them too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

import catalog
from inference.params import GenerationParams


def variant_params(engine: Engine, row: dict[str, Any]) -> GenerationParams:
    """A variant row's generation parameters: those stored when it was defined, never a preset applied again (a
    preset changed in a release must not change the variants made before). A variant made before the catalog stored
    them (migration 0009) is resolved once, with the presets of this release, and stored so."""
    if row["params"] is not None:
        return GenerationParams.model_validate(row["params"])
    fields = {k: row[k] for k in catalog.VARIANT_FIELDS if k not in ("backend", "preset")}
    params = GenerationParams.resolve(row["preset"], backend=row["backend"], **fields, **(row["extra"] or {}))
    catalog.freeze_variant(engine, row["id"], params.model_dump(mode="json"))
    return params


def output_params(variant: GenerationParams, image_settings: Mapping[str, Any], height_m: float | None) -> GenerationParams:
    """The parameters an output is made with, and recorded with: its variant's, the settings of the image stages that
    made its views, and its object's own height where the catalog has one (it wins over the variant's height).
    The 3D asset makes outputs with it and ``convert`` compares what it gives with what an output was made with."""
    params = variant.replace(**image_settings)
    return params if height_m is None else params.replace(height=height_m)


def another_seed_variant(engine: Engine, name: str) -> str:
    """A variant that is ``name``'s parameters with the next seed (``desktop`` → ``desktop-seed1``, then
    ``desktop-seed2`` …), defined now unless one of that name already has exactly those parameters; returns its name.
    What a reviewer's "make it again" asks for: everything the same but the sampler's seed."""
    params = variant_params(engine, catalog.variant_by_name(engine, name))
    base = name.removesuffix(f"-seed{params.seed}") if params.seed else name
    existing = {v["name"] for v in catalog.list_variants(engine)}
    for seed in range(params.seed + 1, params.seed + 1000):
        wanted, candidate = params.replace(seed=seed).model_dump(mode="json"), f"{base}-seed{seed}"
        if candidate not in existing:
            catalog.define_variant(engine, candidate, wanted)
            return candidate
        if variant_params(engine, catalog.variant_by_name(engine, candidate)).model_dump(mode="json") == wanted:
            return candidate
    raise catalog.CatalogError(f"variant {name!r}: no free name for another seed among {base}-seed{params.seed + 1}…")
