"""Licence terms in the model tables, and the studio setting that refuses a model before any work."""

from __future__ import annotations

import pytest

from inference.backends import BACKENDS
from inference.images.models import LEARNED_UPSCALERS, REMBG_LICENCES, REMBG_MODELS
from inference.licences import LicenceRefused, StudioUse, check_licences, licence_record, models_used
from inference.params import GenerationParams

EU, COMMERCIAL = StudioUse("EU"), StudioUse(None, commercial=True)


def params(**fields) -> GenerationParams:  # noqa: ANN003
    return GenerationParams.resolve("mobile", **fields)


def test_every_model_in_the_tables_declares_its_licence():
    licences = [s.licence for s in BACKENDS.values()] + [u.licence for u in LEARNED_UPSCALERS.values()]
    licences += [REMBG_LICENCES[m] for m in REMBG_MODELS]
    assert all(licence.name and licence.commercial in (True, False, None) for licence in licences)
    assert BACKENDS["hunyuan3d-2mini"].licence.excluded_territories == {"EU", "UK", "KR"}


def test_a_territory_the_licence_excludes_refuses_the_backend_by_name():
    with pytest.raises(LicenceRefused, match=r"hunyuan3d-2mini: its licence \(Tencent Hunyuan 3D 2\.0 Community License\) excludes EU"):
        check_licences(params(backend="hunyuan3d-2mini"), EU)
    check_licences(params(backend="hunyuan3d-2mini"), StudioUse("US"))  # allowed there
    check_licences(params(backend="builtin"), EU)


def test_commercial_use_refuses_what_cannot_be_checked_and_allows_the_rest():
    with pytest.raises(LicenceRefused, match="remote: commercial use .* cannot be checked"):
        check_licences(params(backend="remote"), COMMERCIAL)
    with pytest.raises(LicenceRefused, match="silueta"):
        check_licences(params(background="silueta"), COMMERCIAL)
    check_licences(params(backend="shap-e", upscale=4, upscaler="realesrgan-x4", background="u2net"), COMMERCIAL)


def test_only_the_models_a_generation_runs_are_checked_and_recorded():
    assert set(models_used(params(upscale=1, remove_background=False))) == {"shape"}
    record = licence_record(params(upscale=2, upscaler="realesrgan-x2", background="birefnet-general"))
    assert {role: r["model"] for role, r in record.items()} == {
        "shape": "builtin",
        "upscaler": "realesrgan-x2",
        "background": "birefnet-general",
    }
    assert record["upscaler"]["licence"] == "BSD-3-Clause" and record["background"]["licence"] == "MIT"
    # a remover the generation does not run cannot refuse it
    check_licences(params(background="silueta", remove_background=False), COMMERCIAL)


def test_the_studio_setting_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MESHMILL_TERRITORY", "eu")
    monkeypatch.setenv("MESHMILL_COMMERCIAL", "1")
    assert StudioUse.from_environment() == StudioUse("EU", True)
    monkeypatch.setenv("MESHMILL_TERRITORY", "Atlantis")
    with pytest.raises(ValueError, match="MESHMILL_TERRITORY='ATLANTIS' is not a territory Meshmill knows"):
        StudioUse.from_environment()
