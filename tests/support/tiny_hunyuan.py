"""Tiny, randomly initialised Hunyuan3D models built with hy3dgen's own classes, saved in the layout
the published weights use (``<models>/<repo>/<subfolder>/{config.yaml, model.fp16.safetensors}``).

The configs have the structure of the published ones (DiT + ShapeVAE + DINOv2 conditioner + flow-matching
scheduler + image processor), only a few channels wide, so a whole generation runs in seconds on a CPU.
"""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

DINO = {  # transformers Dinov2Config, the fields the published config sets, at toy size
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "patch_size": 14,
    "image_size": 28,
    "num_channels": 3,
    "layerscale_value": 1.0,
}


def dit_config(multiview: bool = False, turbo: bool = False) -> dict:
    encoder = {
        "type": "DinoImageEncoderMV" if multiview else "DinoImageEncoder",
        "kwargs": {"config": DINO, "image_size": 28, "use_cls_token": True, **({"view_num": 4} if multiview else {})},
    }
    return {
        "model": {
            "target": "hy3dgen.shapegen.models.Hunyuan3DDiT",
            "params": {
                "in_channels": 8,
                "context_in_dim": DINO["hidden_size"],
                "hidden_size": 32,
                "mlp_ratio": 2.0,
                "num_heads": 2,
                "depth": 1,
                "depth_single_blocks": 1,
                "axes_dim": [16],
                "theta": 10000,
                "qkv_bias": True,
                "guidance_embed": turbo,
            },
        },
        "vae": vae_config()["vae"],
        "conditioner": {"target": "hy3dgen.shapegen.models.SingleImageEncoder", "params": {"main_image_encoder": encoder}},
        "scheduler": {
            "target": "hy3dgen.shapegen.schedulers."
            + ("ConsistencyFlowMatchEulerDiscreteScheduler" if turbo else "FlowMatchEulerDiscreteScheduler"),
            "params": {"num_train_timesteps": 1000},
        },
        "image_processor": {
            "target": "hy3dgen.shapegen.preprocessors." + ("MVImageProcessorV2" if multiview else "ImageProcessorV2"),
            "params": {"size": 64, "border_ratio": 0.15},
        },
    }


def vae_config() -> dict:
    return {
        "vae": {
            "target": "hy3dgen.shapegen.models.ShapeVAE",
            "params": {
                "num_latents": 16,
                "embed_dim": 8,
                "num_freqs": 4,
                "include_pi": False,
                "heads": 2,
                "width": 32,
                "num_decoder_layers": 1,
                "qkv_bias": False,
                "qk_norm": True,
                "scale_factor": 1.0,
            },
        }
    }


def _save(folder: Path, config: dict, parts: dict[str, torch.nn.Module]) -> None:
    """The DiT checkpoint prefixes each part's keys (``model.``, ``vae.``, ``conditioner.``); a VAE's has none."""
    import safetensors.torch

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    tensors = {
        f"{prefix}.{key}".lstrip("."): value.detach().to(torch.float16).contiguous()
        for prefix, module in parts.items()
        for key, value in module.state_dict().items()
    }
    safetensors.torch.save_file(tensors, str(folder / "model.fp16.safetensors"))


def build_dit(
    models: Path, repo: str, subfolder: str, multiview: bool = False, turbo: bool = False, seed: int = 0, blank: bool = False
) -> Path:
    """Instantiate the config with hy3dgen's classes, randomly initialised, and save it; returns the folder.

    ``blank``: a decoder whose every point is outside, so every generation decodes an empty volume."""
    from hy3dgen.shapegen.pipelines import instantiate_from_config

    torch.manual_seed(seed)
    config = dit_config(multiview, turbo)
    parts = {name: instantiate_from_config(config[name]) for name in ("model", "vae", "conditioner")}
    _lift_vae_output(parts["vae"], -1.0 if blank else 0.02)
    folder = models / repo / subfolder
    _save(folder, config, parts)
    return folder


def build_vae(models: Path, repo: str, subfolder: str, seed: int = 1) -> Path:
    from hy3dgen.shapegen.pipelines import instantiate_from_config

    torch.manual_seed(seed)
    config = vae_config()["vae"]
    vae = instantiate_from_config(config)
    _lift_vae_output(vae, 0.02)
    folder = models / repo / subfolder
    _save(folder, config, {"": vae})
    return folder


def build_tested_models(models: Path) -> Path:
    """The Hunyuan models the tests and the GPU check run: 2 (single view), 2mv, and 2mini-turbo with its
    FlashVDM VAE, each in its published place under ``models``."""
    build_dit(models, "tencent/Hunyuan3D-2", "hunyuan3d-dit-v2-0")
    build_dit(models, "tencent/Hunyuan3D-2mv", "hunyuan3d-dit-v2-mv", multiview=True)
    build_dit(models, "tencent/Hunyuan3D-2mini", "hunyuan3d-dit-v2-mini-turbo", turbo=True)
    build_vae(models, "tencent/Hunyuan3D-2mini", "hunyuan3d-vae-v2-mini-turbo")
    return models


def _lift_vae_output(vae: torch.nn.Module, bias: float) -> None:
    """Random weights decode a field of noise around 0; bias the occupancy a little (0.02) so it has a surface
    (about half the cube inside), as a trained decoder's would — or far below zero, so it has none."""
    with torch.no_grad():
        last = vae.geo_decoder.output_proj
        last.weight.mul_(0.1 if bias > 0 else 0.0)
        last.bias.fill_(bias)
