"""OpenAI Shap-E image-to-3D through diffusers' ``ShapEImg2ImgPipeline``, from a local folder.

The folder is the published one (``<models>/openai/shap-e-img2img``: model_index.json, prior/,
image_encoder/, image_processor/, scheduler/, shap_e_renderer/). The prior samples a latent from the
front view; the renderer turns it into an SDF grid and a mesh (Z up, which we turn to glTF's +Y up).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from PIL import Image

from inference.backends import BackendSpec
from inference.errors import EmptySurface
from inference.params import GenerationParams
from inference.runtime.devices import model_dtype, torch_device
from inference.runtime.weights import import_module, models_dir, quiet_loading, require_files
from inference.views import FramedViews, align_to_views

#: Shap-E meshes are Z-up: a quarter turn about X brings +Z to +Y and -Y (their front) to +Z
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


class ShapEGenerator:
    def __init__(self, spec: BackendSpec, device: str | None = None):
        self.spec = spec
        self.name = spec.name
        self.version = spec.repo
        self.accepts_views = spec.views
        diffusers = import_module(spec.name, "diffusers", spec.extra)
        require_files(spec.name, spec.weight_paths())
        quiet_loading()
        self.device = torch_device(device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.pipeline = diffusers.ShapEImg2ImgPipeline.from_pretrained(
                str(models_dir() / spec.repo), dtype=model_dtype(self.device), local_files_only=True
            ).to(self.device)
        self.pipeline.set_progress_bar_config(disable=True)

    def latent(self, views: FramedViews, params: GenerationParams) -> torch.Tensor:
        """The prior's sample for the front view: (1, vectors, width), the renderer's MLP parameters."""
        rgba = views.pil_images()["front"]
        white = Image.new("RGB", rgba.size, (255, 255, 255))  # Shap-E was trained on objects over white
        white.paste(rgba, mask=rgba.getchannel("A"))
        generator = torch.Generator(device=self.device).manual_seed(params.seed)
        return self.pipeline(
            image=white, num_inference_steps=params.steps, guidance_scale=params.guidance, generator=generator, output_type="latent"
        ).images

    def generate(self, views: FramedViews, params: GenerationParams) -> tuple[np.ndarray, np.ndarray]:
        latent = self.latent(views, params)
        try:
            mesh = self.pipeline.shap_e_renderer.decode_to_mesh(latent[:1], self.device)
        except ValueError as exc:  # diffusers fails on an SDF grid with no surface in it
            raise EmptySurface(f"{self.name}: the decoded SDF has no surface ({exc})") from None
        vertices = mesh.verts.float().cpu().numpy() @ Z_UP_TO_Y_UP.T
        faces = mesh.faces.cpu().numpy().astype(np.int64)
        if len(faces) == 0:
            raise EmptySurface(f"{self.name}: the decoded SDF has no surface")
        return align_to_views(vertices.astype(np.float64), views), faces
