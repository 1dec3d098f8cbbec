"""Shap-E through diffusers' ShapEImg2ImgPipeline, from a tiny pipeline saved with save_pretrained.

Tested as far as the latent: the renderer's marching-cubes tables are buffers that ship inside the
published checkpoint (a freshly built renderer has them zeroed), so a random model decodes no surface.
The generator contract (tests/inference/test_generator_contract.py) checks its seed and that this case
ends in a clear EmptySurface error.
"""

from __future__ import annotations

import pytest
import safetensors.torch
import torch
from PIL import Image

from inference.generators import get_generator
from inference.params import GenerationParams
from inference.pipeline import clean_views, upscale_views
from inference.runtime.weights import WeightsMissing
from tests.support import SAMPLES


def test_shap_e_loads_the_saved_pipeline_and_samples_a_latent(shap_e_models, monkeypatch):
    monkeypatch.setenv("MESHMILL_MODELS_DIR", str(shap_e_models))
    generator = get_generator("shap-e", "cpu")
    saved = safetensors.torch.load_file(str(shap_e_models / "openai/shap-e-img2img/prior/diffusion_pytorch_model.safetensors"))
    loaded = generator.pipeline.prior.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in saved.items())

    params = GenerationParams(backend="shap-e", steps=2, seed=5)
    views = upscale_views(clean_views({"front": Image.open(SAMPLES / "duck.png")}, params), params)
    assert generator.latent(views, params).shape == (1, 32, 16)  # the renderer's 4 layers × 8 rows of MLP parameters, 16 wide


def test_shap_e_without_weights_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MESHMILL_MODELS_DIR", str(tmp_path))
    with pytest.raises(WeightsMissing, match="openai/shap-e-img2img/model_index.json"):
        get_generator("shap-e")
