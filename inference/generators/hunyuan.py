"""Hunyuan3D-2 / 2mini / 2mv (and their turbo models) through Tencent's ``hy3dgen`` package.

Weights come from the models folder in the layout hy3dgen itself uses for ``HY3DGEN_MODELS``
(``<models>/tencent/Hunyuan3D-2/hunyuan3d-dit-v2-0/{config.yaml, model.fp16.safetensors}``); we
check every file before hy3dgen sees the path, so it never falls back to downloading. Our face budget
is applied by our clean-up, not hy3dgen's 40k face reducer.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from inference.backends import BackendSpec
from inference.generators.base import EmptySurface
from inference.params import GenerationParams
from inference.runtime.devices import model_dtype, torch_device
from inference.runtime.weights import import_module, models_dir, require_files
from inference.views import FramedViews, align_to_views

#: points decoded per chunk by the volume decoder: more is faster on a GPU, and costs memory
CHUNKS = {"cuda": 200_000, "cpu": 8_000}


@contextmanager
def _hy3dgen_models(folder: str) -> Iterator[None]:
    # hy3dgen resolves every model (the DiT and, for turbo, a second VAE) under HY3DGEN_MODELS
    saved = os.environ.get("HY3DGEN_MODELS")
    os.environ["HY3DGEN_MODELS"] = folder
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("HY3DGEN_MODELS", None)
        else:
            os.environ["HY3DGEN_MODELS"] = saved


class HunyuanGenerator:
    def __init__(self, spec: BackendSpec, device: str | None = None):
        self.spec = spec
        self.name = spec.name
        self.version = f"{spec.repo}/{spec.subfolder}"
        self.accepts_views = spec.views
        shapegen = import_module(spec.name, "hy3dgen.shapegen", spec.extra)
        logging.getLogger("hy3dgen.shapgen").setLevel(logging.WARNING)  # (sic) its per-stage timings, at INFO
        require_files(spec.name, spec.weight_paths())
        self.device = torch_device(device)
        dtype = model_dtype(self.device)
        with _hy3dgen_models(str(models_dir())):
            self.pipeline = shapegen.Hunyuan3DDiTFlowMatchingPipeline.from_pretrained(
                spec.repo, subfolder=spec.subfolder, use_safetensors=True, variant="fp16", device=self.device, dtype=dtype
            )
            if spec.turbo_vae is not None:
                self.pipeline.enable_flashvdm(mc_algo="mc")  # loads the turbo VAE named in spec.turbo_vae
                self.pipeline.to(self.device, dtype)

    def generate(self, views: FramedViews, params: GenerationParams) -> tuple[np.ndarray, np.ndarray]:
        images = views.pil_images()
        # hy3dgen's multi-view processor takes a dict keyed front/left/back/right; single-view models one image
        image = images if len(self.accepts_views) > 1 else images["front"]
        generator = torch.Generator(device=self.device).manual_seed(params.seed)
        meshes = self.pipeline(
            image=image,
            num_inference_steps=params.steps,
            guidance_scale=params.guidance,
            generator=generator,
            octree_resolution=params.octree_resolution,
            num_chunks=CHUNKS.get(self.device.type, CHUNKS["cpu"]),
            output_type="trimesh",
            enable_pbar=False,
        )
        mesh = meshes[0]
        if mesh is None or len(mesh.faces) == 0:
            raise EmptySurface(f"{self.name}: the decoded volume has no surface (try another seed or more steps)")
        return align_to_views(np.asarray(mesh.vertices, np.float64), views), np.asarray(mesh.faces, np.int64)
