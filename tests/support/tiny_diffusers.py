"""Tiny, randomly initialised diffusers pipelines (Stable Diffusion ×4 upscaler, Shap-E img2img) built from
diffusers' and transformers' own classes and saved with ``save_pretrained`` — the layout of the published
folders — so Meshmill loads them the way it loads the real ones."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def clip_tokenizer(folder: Path):  # noqa: ANN201
    """A CLIP BPE tokenizer over a toy vocabulary (the published vocab is 49k entries; the format is the same)."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, **{t: i + 2 for i, t in enumerate(letters + [f"{c}</w>" for c in letters])}}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="<|endoftext|>", model_max_length=77)


def build_sd_upscaler(folder: Path, seed: int = 0) -> Path:
    from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, StableDiffusionUpscalePipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=16,
        in_channels=7,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=4,
        norm_num_groups=4,
        num_class_embeds=351,
    )
    # three resolutions: the published upscaler's VAE decodes latents at 4× their size, like this one
    vae = AutoencoderKL(
        block_out_channels=[8, 8, 8],
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        norm_num_groups=4,
        down_block_types=["DownEncoderBlock2D"] * 3,
        up_block_types=["UpDecoderBlock2D"] * 3,
        scaling_factor=0.08333,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=16,
            intermediate_size=32,
            num_attention_heads=2,
            num_hidden_layers=1,
            vocab_size=60,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            max_position_embeddings=77,
        )
    )
    pipeline = StableDiffusionUpscalePipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=clip_tokenizer(folder / "tokenizer"),
        unet=unet,
        low_res_scheduler=DDPMScheduler(),
        scheduler=DDIMScheduler(prediction_type="v_prediction"),
        max_noise_level=350,
    )
    pipeline.save_pretrained(str(folder))
    return folder


def build_shap_e(folder: Path, seed: int = 0) -> Path:
    """Shap-E img2img at toy size. The renderer's MLP is as wide as the latent's parameter vectors say
    (d_hidden rows per layer, 32 vectors in all), as in the published model (256 rows, 1024 vectors)."""
    from diffusers import HeunDiscreteScheduler, PriorTransformer, ShapEImg2ImgPipeline
    from diffusers.pipelines.shap_e import ShapERenderer
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(seed)
    width, d_hidden, d_latent = 16, 8, 16
    prior = PriorTransformer(
        num_attention_heads=2,
        attention_head_dim=8,
        embedding_dim=d_latent,
        num_embeddings=4 * d_hidden,
        embedding_proj_dim=width,
        time_embed_dim=32,
        num_layers=1,
        clip_embed_dim=2 * d_latent,
        additional_embeddings=0,
        time_embed_act_fn="gelu",
        norm_in_type="layer",
        embedding_proj_norm_type="layer",
        encoder_hid_proj_type=None,
        added_emb_type=None,
    )
    encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=width,
            image_size=28,
            patch_size=14,
            intermediate_size=24,
            num_attention_heads=2,
            num_hidden_layers=1,
        )
    )
    processor = CLIPImageProcessor(
        crop_size=28,
        size={"shortest_edge": 28},
        do_center_crop=True,
        do_normalize=True,
        do_resize=True,
        image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711],
    )
    renderer = ShapERenderer(
        param_shapes=((d_hidden, 93), (d_hidden, d_hidden), (d_hidden, d_hidden), (d_hidden, d_hidden)),
        d_latent=d_latent,
        d_hidden=d_hidden,
        n_output=12,
        background=(255.0, 255.0, 255.0),
    )
    scheduler = HeunDiscreteScheduler(
        beta_schedule="exp",
        num_train_timesteps=1024,
        prediction_type="sample",
        use_karras_sigmas=True,
        clip_sample=True,
        clip_sample_range=1.0,
    )
    ShapEImg2ImgPipeline(
        prior=prior, image_encoder=encoder, image_processor=processor, scheduler=scheduler, shap_e_renderer=renderer
    ).save_pretrained(str(folder))
    return folder


def build_realesrgan(path: Path, scale: int = 4, seed: int = 0) -> Path:
    """An RRDB network (Real-ESRGAN's generator) at toy width, saved as Real-ESRGAN's .pth files are:
    ``{"params_ema": state_dict}``. Built with spandrel's own class for the architecture."""
    from spandrel.architectures.ESRGAN.__arch.RRDB import RRDBNet

    torch.manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"params_ema": RRDBNet(num_filters=8, num_blocks=1, scale=scale).state_dict()}, path)
    return path


def build_rembg_onnx(path: Path, weights: tuple[float, float, float], bias: float) -> Path:
    """A one-layer ONNX segmenter with u2net's interface: input (1, 3, H, W) normalised RGB, first output
    (1, 1, H, W) = sigmoid(w · rgb + b). Real u2net files have the same input and output contract."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.array(weights, np.float32).reshape(1, 3, 1, 1), "w")
    b = numpy_helper.from_array(np.array([bias], np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input.1", "w", "b"], ["logits"]), helper.make_node("Sigmoid", ["logits"], ["mask"])],
        "tiny-u2net",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, "h", "w"])],
        initializer=[w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
