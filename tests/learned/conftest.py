from __future__ import annotations

from pathlib import Path

import pytest

from tests.learned.tiny_hunyuan import build_tested_models


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with tiny Hunyuan3D-2, 2mv and 2mini-turbo (DiT + turbo VAE) in the published layout."""
    return build_tested_models(tmp_path_factory.mktemp("models"))


@pytest.fixture
def models_env(tiny_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MESHMILL_MODELS_DIR", str(tiny_models))
    return tiny_models
