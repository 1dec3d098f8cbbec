"""Texture encoding: seconds and bytes of each `texture_format` at the desktop and hero texture sizes.

    .venv/bin/python benchmarks/texture_encoding_bench.py [--runs 3]

The texture is a real bake: the bundled duck at the desktop preset (2048²), and the same picture
resampled to 4096² for the hero size. Each format is encoded as `inference.mesh.export` does it (PNG at
zlib level 3, JPEG and WebP at quality 90; trimesh's default PNG level 6 for comparison). Prints the best
of ``--runs``; nothing is asserted.

KTX2 (Basis Universal: ETC1S, and UASTC with zstd) is measured too where ``alktx2`` can be imported. It is
not a dependency: its package declares no licence, so Meshmill cannot ship it (docs/benchmarks.md, "Generation
speed"). To measure: ``pip install --target /tmp/ktx alktx2`` and run with ``PYTHONPATH=/tmp/ktx``.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from inference.mesh.export import JPEG_QUALITY, PNG_LEVEL, WEBP_QUALITY  # noqa: E402
from inference.params import GenerationParams  # noqa: E402
from inference.pipeline import generate_asset  # noqa: E402

ENCODINGS = {
    "png, level 6 (trimesh's default)": ("PNG", {"compress_level": 6}),
    f"png, level {PNG_LEVEL} (texture_format png)": ("PNG", {"compress_level": PNG_LEVEL}),
    f"jpeg, quality {JPEG_QUALITY} (texture_format jpeg)": ("JPEG", {"quality": JPEG_QUALITY}),
    f"webp, quality {WEBP_QUALITY} (texture_format webp)": ("WEBP", {"quality": WEBP_QUALITY}),
}


def ktx2_encodings() -> dict:
    """KTX2 encoders, where alktx2 is importable: label → function(RGB image) → bytes."""
    try:
        import alktx2
    except ImportError:
        return {}

    def encoder(**options):  # noqa: ANN003, ANN202
        def encode(image: Image.Image) -> bytes:
            rgba = image.convert("RGBA")
            return alktx2.encode_raw_rgba_to_ktx2(rgba.tobytes(), *rgba.size, False, **options)

        return encode

    return {
        "ktx2 etc1s, quality 128, effort 2 (alktx2)": encoder(codec="etc1s", quality=128, effort=2),
        "ktx2 uastc + zstd 9 (alktx2)": encoder(codec="uastc", zstd_supercompression_level=9, effort=2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asset = generate_asset({"front": Image.open(ROOT / "samples" / "duck.png")}, GenerationParams.resolve("desktop"))
    texture = asset.mesh.visual.material.baseColorTexture.convert("RGB")
    print(f"{'size':>6}  {'encoding':44} {'seconds':>8} {'MB':>7}")
    for size in (2048, 4096):
        image = texture if texture.size[0] == size else texture.resize((size, size), Image.BICUBIC)
        for label, (fmt, options) in ENCODINGS.items():
            best, data = float("inf"), b""
            for _ in range(args.runs):
                buffer = io.BytesIO()
                start = time.perf_counter()
                image.save(buffer, format=fmt, **options)
                best = min(best, time.perf_counter() - start)
                data = buffer.getvalue()
            print(f"{size:>6}  {label:44} {best:8.2f} {len(data) / 1e6:7.2f}")
        for label, encode in ktx2_encodings().items():
            best = float("inf")
            for _ in range(args.runs):
                start = time.perf_counter()
                data = encode(image)
                best = min(best, time.perf_counter() - start)
            print(f"{size:>6}  {label:44} {best:8.2f} {len(data) / 1e6:7.2f}")


if __name__ == "__main__":
    main()
