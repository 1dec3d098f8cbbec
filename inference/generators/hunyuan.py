"""Hunyuan3D-2 / 2mini / 2mv (and their turbo models) through Tencent's ``hy3dgen`` package.

Weights come from the models folder in the layout hy3dgen itself uses for ``HY3DGEN_MODELS``
(``<models>/tencent/Hunyuan3D-2/hunyuan3d-dit-v2-0/{config.yaml, model.fp16.safetensors}``); we
check every file before hy3dgen sees the path, so it never falls back to downloading. Our face budget
is applied by our clean-up, not hy3dgen's 40k face reducer.

``texture_source="backend"`` paints the shape with Hunyuan3D-Paint (``hy3dgen.texgen``), loaded on first use: it
needs hy3dgen's ``custom_rasterizer`` CUDA extension (built from Hunyuan3D-2's repository) and the paint and
delight models under ``<models>/tencent/Hunyuan3D-2``; without them the refusal names what is missing.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import trimesh

from inference.backends import BackendSpec
from inference.errors import EmptySurface
from inference.generators.base import TextureUnavailable
from inference.params import GenerationParams
from inference.runtime.devices import model_dtype, torch_device
from inference.runtime.weights import import_module, models_dir, require_files
from inference.views import FramedViews, align_to_views

#: Hunyuan3D-Paint's models (every Hunyuan3D-2 shape model is painted by these) and what hy3dgen reads of them
PAINT_REPO = "tencent/Hunyuan3D-2"
PAINT_FILES = ("hunyuan3d-paint-v2-0/model_index.json", "hunyuan3d-delight-v2-0/model_index.json")
#: hy3dgen's texture generator and the CUDA rasteriser it imports when it renders
PAINT_MODULES = ("hy3dgen.texgen", "custom_rasterizer")
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
        mesh = self._shape(views, params)
        return align_to_views(np.asarray(mesh.vertices, np.float64), views), np.asarray(mesh.faces, np.int64)

    def generate_textured(self, views: FramedViews, params: GenerationParams) -> trimesh.Trimesh:
        """The shape painted by Hunyuan3D-Paint from the front view, in hy3dgen's frame (where its cameras look)
        and then placed in the views'."""
        painter = self._painter()
        mesh = self._shape(views, params)
        with _hy3dgen_models(str(models_dir())):
            painted = painter(mesh, image=views.pil_images()["front"])
        painted.vertices = align_to_views(np.asarray(painted.vertices, np.float64), views)
        return painted

    def _painter(self):  # noqa: ANN202  # hy3dgen's Hunyuan3DPaintPipeline
        if getattr(self, "painter", None) is None:
            missing = [m for m in PAINT_MODULES if not _importable(m)]
            absent = [str(path) for path in (models_dir() / PAINT_REPO / f for f in PAINT_FILES) if not path.is_file()]
            problems = [f"missing weights {', '.join(absent)}"] if absent else []
            if missing:  # the extension is built from Hunyuan3D-2's repository, it has no wheel
                problems.insert(0, f"missing Python module(s) {', '.join(missing)} (hy3dgen's texgen and its CUDA extension)")
            if problems:
                raise TextureUnavailable(
                    f"{self.name}: --texture-source backend paints with Hunyuan3D-Paint, which is not set up here: {'; '.join(problems)}"
                )
            texgen = import_module(self.name, "hy3dgen.texgen", self.spec.extra)
            self.painter = texgen.Hunyuan3DPaintPipeline.from_pretrained(str(models_dir() / PAINT_REPO))
        return self.painter

    def _shape(self, views: FramedViews, params: GenerationParams) -> trimesh.Trimesh:
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
        return mesh


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False
