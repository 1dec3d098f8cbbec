from __future__ import annotations

from pathlib import Path

import pytest

from tests.learned.tiny_hunyuan import build_dit, build_vae


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with tiny Hunyuan3D-2, 2mv and 2mini-turbo (DiT + turbo VAE) in the published layout."""
    root = tmp_path_factory.mktemp("models")
    build_dit(root, "tencent/Hunyuan3D-2", "hunyuan3d-dit-v2-0")
    build_dit(root, "tencent/Hunyuan3D-2mv", "hunyuan3d-dit-v2-mv", multiview=True)
    build_dit(root, "tencent/Hunyuan3D-2mini", "hunyuan3d-dit-v2-mini-turbo", turbo=True)
    build_vae(root, "tencent/Hunyuan3D-2mini", "hunyuan3d-vae-v2-mini-turbo")
    return root


@pytest.fixture
def models_env(tiny_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MESHMILL_MODELS_DIR", str(tiny_models))
    return tiny_models
