"""Shap-E through diffusers' ShapEImg2ImgPipeline, from a tiny pipeline saved with save_pretrained.

Tested as far as the latent: the renderer's marching-cubes tables are buffers that ship inside the
published checkpoint (a freshly built renderer has them zeroed), so a random model decodes no surface.
That case must end in a clear EmptySurface error, which is tested too.
"""

from __future__ import annotations

import pytest
import safetensors.torch
import torch
from PIL import Image

from inference.backends import get_generator
from inference.generators import EmptySurface
from inference.params import GenerationParams
from inference.pipeline import prepare_views
from inference.weights import WeightsMissing
from tests.learned.test_hunyuan import SAMPLES
from tests.learned.tiny_diffusers import build_shap_e


@pytest.fixture(scope="module")
def shap_e_models(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("shap-e")
    build_shap_e(root / "openai/shap-e-img2img")
    return root


def test_shap_e_loads_the_saved_pipeline_and_samples_a_seeded_latent(shap_e_models, monkeypatch):
    monkeypatch.setenv("MESHMILL_MODELS_DIR", str(shap_e_models))
    generator = get_generator("shap-e", "cpu")
    saved = safetensors.torch.load_file(str(shap_e_models / "openai/shap-e-img2img/prior/diffusion_pytorch_model.safetensors"))
    loaded = generator.pipeline.prior.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in saved.items())

    views = prepare_views({"front": Image.open(SAMPLES / "duck.png")}, GenerationParams())
    params = GenerationParams(backend="shap-e", steps=2, seed=5)
    first, again = generator.latent(views, params), generator.latent(views, params)
    assert first.shape == (1, 32, 16)  # the renderer's 4 layers × 8 rows of MLP parameters, 16 wide
    assert torch.equal(first, again)
    assert not torch.equal(first, generator.latent(views, GenerationParams(backend="shap-e", steps=2, seed=6)))
    with pytest.raises(EmptySurface, match="shap-e: the decoded SDF has no surface"):
        generator.generate(views, params)


def test_shap_e_without_weights_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MESHMILL_MODELS_DIR", str(tmp_path))
    with pytest.raises(WeightsMissing, match="openai/shap-e-img2img/model_index.json"):
        get_generator("shap-e")
