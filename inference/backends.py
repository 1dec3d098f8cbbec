"""Every shape backend Meshmill knows: what it needs, which parameters it reads, and how to build it.

This module is the one table of backends, and a leaf: it imports no generator and nothing heavy.
``inference.generators.get_generator`` reads it to build a backend; ``inference.diagnostics`` to report
on them, so ``meshmill models`` can answer on a machine that has none of their packages.

Kinds:
- ``builtin``: silhouette volumes, no weights (``inference.generators.builtin``).
- ``hunyuan``: Hunyuan3D-2 / 2mini / 2mv through the ``hy3dgen`` package, weights from the models folder.
- ``shap-e``: OpenAI Shap-E image-to-3D through diffusers, weights from the models folder.
- ``remote``: a model server over HTTP that speaks Hunyuan3D-2's ``api_server.py`` protocol; this is how
  TRELLIS, TRELLIS.2, Direct3D-S2 or Hunyuan3D-2.1 run on a GPU box whose Python stack cannot live beside ours.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from inference.licence_terms import (
    MESHMILL,
    MIT_DIRECT3D_S2,
    MIT_SHAP_E,
    MIT_TRELLIS,
    MIT_TRELLIS_2,
    SERVER_DEFINED,
    TENCENT_HUNYUAN_3D_2,
    TENCENT_HUNYUAN_3D_2_1,
    Licence,
)
from inference.runtime.weights import models_dir
from inference.views import VIEW_NAMES

ALL_VIEWS = frozenset(VIEW_NAMES)
FRONT_ONLY = frozenset({"front"})
#: the GenerationParams fields that backends declare; a field a backend does not declare must be left unset
BACKEND_FIELDS = (
    "steps",
    "guidance",
    "octree_resolution",
    "stage2_steps",
    "stage2_guidance",
    "stage3_steps",
    "stage3_guidance",
    "pipeline_type",
)


class UnknownBackend(ValueError):
    pass


@dataclass(frozen=True)
class ParamRange:
    default: float
    low: float
    high: float
    meaning: str = ""


@dataclass(frozen=True)
class ParamChoice:
    """A backend parameter that names one of a few modes."""

    default: str
    choices: tuple[str, ...]
    meaning: str = ""


@dataclass(frozen=True)
class BackendSpec:
    name: str
    kind: str
    description: str
    views: frozenset[str]
    params: dict[str, ParamRange | ParamChoice]
    device: str
    #: whether the seed decides the output (a sampler); False: the same mesh for every seed
    seeded: bool = True
    #: pip extra that installs what it imports, and the modules it imports
    extra: str | None = None
    modules: tuple[str, ...] = ()
    #: files under the models folder, relative to it (in-process backends)
    weight_files: tuple[str, ...] = ()
    #: the model's folder under the models folder (hy3dgen: its repo, with the DiT in ``subfolder`` and,
    #: for turbo models, the FlashVDM VAE in ``turbo_vae``; diffusers: the pipeline's own folder)
    repo: str = ""
    subfolder: str = ""
    turbo_vae: tuple[str, str] | None = None
    #: remote: the environment variable holding the server's address
    url_env: str = ""
    #: whether it can give its own textured surface (``texture_source="backend"``): a model server asked for a
    #: textured mesh, Hunyuan3D-2 through Hunyuan3D-Paint
    textures: bool = False
    #: the model's licence as published (``inference.licences`` checks it against the studio's use)
    licence: Licence = SERVER_DEFINED

    def missing_modules(self) -> list[str]:
        return [m for m in self.modules if importlib.util.find_spec(m.split(".")[0]) is None]

    def weight_paths(self) -> list[Path]:
        return [models_dir() / f for f in self.weight_files]

    def missing_weights(self) -> list[Path]:
        return [p for p in self.weight_paths() if not p.is_file()]

    def server_url(self) -> str | None:
        return os.environ.get(self.url_env) or None


def _hunyuan_files(repo: str, subfolder: str) -> tuple[str, ...]:
    return (f"{repo}/{subfolder}/config.yaml", f"{repo}/{subfolder}/model.fp16.safetensors")


_STEPS = ParamRange(30, 1, 100, "num_inference_steps")
_GUIDANCE = ParamRange(5.0, 0.0, 10.0, "guidance_scale")
_OCTREE = ParamRange(256, 64, 512, "octree_resolution of the volume decoded into a surface")


def _hunyuan(
    name: str, repo: str, subfolder: str, views: frozenset[str], what: str, turbo_vae: tuple[str, str] | None = None
) -> BackendSpec:
    turbo = turbo_vae is not None
    files = _hunyuan_files(repo, subfolder) + (_hunyuan_files(*turbo_vae) if turbo else ())
    return BackendSpec(
        name=name,
        kind="hunyuan",
        description=what + (" — step-distilled, FlashVDM decoding" if turbo else ""),
        views=views,
        params={
            "steps": ParamRange(5, 1, 50, "num_inference_steps") if turbo else _STEPS,
            "guidance": _GUIDANCE,
            "octree_resolution": _OCTREE,
        },
        device="CUDA, fp16 (a CPU runs fp32, minutes per mesh)",
        extra="hunyuan",
        modules=("hy3dgen", "torchvision", "diffusers", "transformers"),
        weight_files=files,
        repo=repo,
        subfolder=subfolder,
        turbo_vae=turbo_vae,
        licence=TENCENT_HUNYUAN_3D_2,
        textures=True,
    )


def _remote(
    name: str,
    what: str,
    params: dict[str, ParamRange | ParamChoice],
    views: frozenset[str] = FRONT_ONLY,
    licence: Licence = SERVER_DEFINED,
    textures: bool = True,
) -> BackendSpec:
    env = "MESHMILL_REMOTE_URL" if name == "remote" else f"MESHMILL_REMOTE_{re.sub(r'[^A-Z0-9]', '_', name.upper())}_URL"
    return BackendSpec(
        name=name,
        kind="remote",
        description=what,
        views=views,
        params=params,
        device="the model server's (any GPU box)",
        modules=("httpx",),
        url_env=env,
        licence=licence,
        textures=textures,
    )


_SPECS = [
    BackendSpec(
        name="builtin",
        kind="builtin",
        views=ALL_VIEWS,
        device="CPU or CUDA",
        seeded=False,
        description="silhouette volumes; no weights, runs anywhere",
        params={
            "steps": ParamRange(30, 1, 100, "volume resolution 64 + 4·steps (max 256)"),
            "guidance": ParamRange(5.0, 0.0, 10.0, "roundness of cross-sections (0 boxy … 10 round)"),
        },
        modules=("torch",),
        licence=MESHMILL,
    ),
    _hunyuan("hunyuan3d-2", "tencent/Hunyuan3D-2", "hunyuan3d-dit-v2-0", FRONT_ONLY, "Hunyuan3D-2.0, one image"),
    _hunyuan(
        "hunyuan3d-2-turbo",
        "tencent/Hunyuan3D-2",
        "hunyuan3d-dit-v2-0-turbo",
        FRONT_ONLY,
        "Hunyuan3D-2.0, one image",
        ("tencent/Hunyuan3D-2", "hunyuan3d-vae-v2-0-turbo"),
    ),
    _hunyuan("hunyuan3d-2mini", "tencent/Hunyuan3D-2mini", "hunyuan3d-dit-v2-mini", FRONT_ONLY, "Hunyuan3D-2mini (0.6B), one image"),
    _hunyuan(
        "hunyuan3d-2mini-turbo",
        "tencent/Hunyuan3D-2mini",
        "hunyuan3d-dit-v2-mini-turbo",
        FRONT_ONLY,
        "Hunyuan3D-2mini (0.6B), one image",
        ("tencent/Hunyuan3D-2mini", "hunyuan3d-vae-v2-mini-turbo"),
    ),
    _hunyuan("hunyuan3d-2mv", "tencent/Hunyuan3D-2mv", "hunyuan3d-dit-v2-mv", ALL_VIEWS, "Hunyuan3D-2mv, front/left/back/right"),
    _hunyuan(
        "hunyuan3d-2mv-turbo",
        "tencent/Hunyuan3D-2mv",
        "hunyuan3d-dit-v2-mv-turbo",
        ALL_VIEWS,
        "Hunyuan3D-2mv, front/left/back/right",
        ("tencent/Hunyuan3D-2", "hunyuan3d-vae-v2-0-turbo"),
    ),
    BackendSpec(
        name="shap-e",
        kind="shap-e",
        views=FRONT_ONLY,
        device="CUDA, fp16 (CPU works, slowly)",
        description="OpenAI Shap-E image-to-3D through diffusers' ShapEImg2ImgPipeline",
        params={"steps": ParamRange(64, 1, 100, "num_inference_steps"), "guidance": ParamRange(3.0, 0.0, 10.0, "guidance_scale")},
        extra="shap-e",
        modules=("diffusers", "transformers"),
        repo="openai/shap-e-img2img",
        weight_files=("openai/shap-e-img2img/model_index.json",),
        licence=MIT_SHAP_E,
    ),
    _remote(
        "remote",
        "any model server speaking Hunyuan3D-2's api_server protocol",
        {"steps": _STEPS, "guidance": _GUIDANCE, "octree_resolution": _OCTREE},
    ),
    _remote(
        "hunyuan3d-2.1",
        "Hunyuan3D-2.1 on a model server",
        {"steps": ParamRange(50, 1, 100, "num_inference_steps"), "guidance": _GUIDANCE, "octree_resolution": _OCTREE},
        licence=TENCENT_HUNYUAN_3D_2_1,
    ),
    _remote(
        "trellis",
        "TRELLIS on a model server; one image or several (stylised art)",
        {
            "steps": ParamRange(12, 1, 50, "sparse-structure sampler steps"),
            "guidance": ParamRange(7.5, 0.0, 10.0, "sparse-structure sampler cfg strength"),
            "stage2_steps": ParamRange(12, 1, 50, "structured-latent sampler steps"),
            "stage2_guidance": ParamRange(3.0, 0.0, 10.0, "structured-latent sampler cfg strength"),
        },
        views=ALL_VIEWS,
        licence=MIT_TRELLIS,
    ),
    _remote(
        "trellis2",
        "TRELLIS.2 (4B, O-Voxel, 512–1536³ cascades) on a model server; one image",
        {
            "pipeline_type": ParamChoice(
                "1024_cascade", ("512", "1024", "1024_cascade", "1536_cascade"), "resolution: one stage, or cascaded from 512"
            ),
            "steps": ParamRange(12, 1, 50, "sparse-structure sampler steps"),
            "guidance": ParamRange(7.5, 0.0, 10.0, "sparse-structure sampler guidance strength"),
            "stage2_steps": ParamRange(12, 1, 50, "shape-latent sampler steps"),
            "stage2_guidance": ParamRange(7.5, 0.0, 10.0, "shape-latent sampler guidance strength"),
            "stage3_steps": ParamRange(12, 1, 50, "texture-latent sampler steps"),
            "stage3_guidance": ParamRange(1.0, 0.0, 10.0, "texture-latent sampler guidance strength"),
        },
        licence=MIT_TRELLIS_2,
    ),
    _remote(
        "direct3d-s2",
        "Direct3D-S2 (sparse SDF volumes) on a model server",
        {
            "steps": ParamRange(50, 1, 100, "num_inference_steps"),
            "guidance": ParamRange(7.0, 0.0, 10.0, "guidance_scale"),
            "octree_resolution": ParamRange(512, 256, 1024, "SDF resolution"),
        },
        licence=MIT_DIRECT3D_S2,
        textures=False,  # shape only
    ),
]
BACKENDS: dict[str, BackendSpec] = {spec.name: spec for spec in _SPECS}


def backend_spec(name: str) -> BackendSpec:
    try:
        return BACKENDS[name]
    except KeyError:
        raise UnknownBackend(f"backend {name!r} is unknown: choose one of {', '.join(BACKENDS)} (see `meshmill models`)") from None
