"""Run every learned model once on a GPU, through Meshmill's normal loading path, with the tiny random
models the tests build (no published weights needed). Proves the CUDA path and fp16 where a backend uses it.

    python benchmarks/learned_cuda_check.py [--device cuda]

Prints, per model: device and dtype of its parameters, what it produced, and seconds (load, run). Tiny
models say nothing about the speed of the real ones; the figures show the pipeline runs, not how fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.generators import get_generator  # noqa: E402
from inference.images.background import remove_background  # noqa: E402
from inference.images.models import LEARNED_UPSCALERS  # noqa: E402
from inference.images.upscale import _load, upscale_image  # noqa: E402
from inference.params import GenerationParams  # noqa: E402
from inference.pipeline import clean_views, generate_asset, upscale_views  # noqa: E402
from tests.support.tiny_diffusers import build_realesrgan, build_rembg_onnx, build_sd_upscaler, build_shap_e  # noqa: E402
from tests.support.tiny_hunyuan import build_tested_models  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def first_parameter(module: torch.nn.Module) -> str:
    p = next(module.parameters())
    return f"{p.device} {str(p.dtype).replace('torch.', '')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    root = Path(tempfile.mkdtemp(prefix="meshmill-tiny-"))
    build_tested_models(root)
    build_shap_e(root / "openai/shap-e-img2img")
    build_realesrgan(root / "upscalers/RealESRGAN_x4plus.pth")
    build_sd_upscaler(root / "stabilityai/stable-diffusion-x4-upscaler")
    build_rembg_onnx(root / "rembg/u2net.onnx", (-4.0, -4.0, -4.0), 1.0)
    os.environ["MESHMILL_MODELS_DIR"] = str(root)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA'}")

    duck = Image.open(SAMPLES / "duck.png")
    quick = {"steps": 4, "octree_resolution": 128, "target_faces": 2000, "texture_size": 1024}
    for name, views in (
        ("hunyuan3d-2", ("front",)),
        ("hunyuan3d-2mv", ("front", "left", "back", "right")),
        ("hunyuan3d-2mini-turbo", ("front",)),
    ):
        start = time.perf_counter()
        generator = get_generator(name, args.device)
        loaded = time.perf_counter() - start
        params = GenerationParams.resolve(None, backend=name, **quick)
        generate_asset({v: duck for v in views}, params, generator)  # warm-up
        start = time.perf_counter()
        asset = generate_asset({v: duck for v in views}, params, generator)
        print(
            f"{name:22} DiT on {first_parameter(generator.pipeline.model)}, VAE on {first_parameter(generator.pipeline.vae)}: "
            f"{asset.faces} faces, {len(asset.glb):,} B GLB; load {loaded:.1f} s, generate {time.perf_counter() - start:.2f} s "
            f"(shape {asset.timings['shape']:.2f} s)"
        )

    shap_e = get_generator("shap-e", args.device)
    views = upscale_views(clean_views({"front": duck}, GenerationParams()), GenerationParams())
    start = time.perf_counter()
    latent = shap_e.latent(views, GenerationParams(backend="shap-e", steps=8))
    print(
        f"{'shap-e':22} prior on {first_parameter(shap_e.pipeline.prior)}: latent {tuple(latent.shape)} {latent.dtype} "
        f"in {time.perf_counter() - start:.2f} s (tiny renderer has no marching-cubes tables: latent only)"
    )

    small = Image.open(SAMPLES / "soccer_ball.png").resize((128, 128))
    for method in ("realesrgan-x4", "sd-x4"):
        upscale_image(small, 4, method, args.device)  # load + warm-up
        start = time.perf_counter()
        out = upscale_image(small, 4, method, args.device)
        model = _load(method, str(LEARNED_UPSCALERS[method].path()), args.device)  # the cached one
        where = first_parameter(model.model) if method.startswith("realesrgan") else first_parameter(model.unet)
        print(f"{method:22} on {where}: {small.size} -> {out.size} in {time.perf_counter() - start:.2f} s")

    image = Image.new("RGB", (320, 320), (255, 255, 255))
    image.paste((150, 40, 30), (80, 60, 240, 280))
    start = time.perf_counter()
    cut = remove_background(image, "u2net")
    import onnxruntime

    print(
        f"{'u2net (rembg)':22} onnxruntime {onnxruntime.__version__} providers {onnxruntime.get_available_providers()[:2]}: "
        f"alpha covers {(sum(cut.getchannel('A').histogram()[128:]) / 320**2):.2f} in {time.perf_counter() - start:.2f} s"
    )


if __name__ == "__main__":
    main()
