"""Background removal quality: mask IoU of the built-in remover on real renders over studio backdrops.

    .venv/bin/python benchmarks/background_bench.py

Objects from pybullet_data are rendered (RGBA, so the true mask is known) and composited onto a
plain, a gradient and a softly textured backdrop like those style models produce; the built-in
remover's mask (alpha > 0.5) is compared with the true one.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.images.background import builtin_mask  # noqa: E402
from inference.quality.evaluation import REFERENCE_SET, obj_texture, write_reference  # noqa: E402
from inference.quality.render import render_mesh  # noqa: E402

DIRECTION = (0.4, 0.35, 1.0)  # a 3/4 view from slightly above, as prop renders are usually shot


def backdrop(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    y = np.linspace(0, 1, size)[:, None, None]
    if kind == "plain":
        return np.full((size, size, 3), 250.0)
    if kind == "gradient":
        return np.broadcast_to((1 - y) * np.array([200, 220, 245]) + y * np.array([250, 250, 252]), (size, size, 3))
    blotches = np.asarray(Image.fromarray(rng.normal(0, 1, (8, 8)).astype(np.float32)).resize((size, size), Image.BICUBIC))
    return np.array([214, 206, 196]) + 6 * blotches[..., None] + rng.normal(0, 2.5, (size, size, 1))


def main() -> None:
    import pybullet_data

    data = Path(pybullet_data.getDataPath())
    rng = np.random.default_rng(0)
    kinds = ("plain", "gradient", "textured")
    rows, seconds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, tex, up, yaw in REFERENCE_SET:
            obj = write_reference(name, data / path, data / tex if tex else None, up, yaw, Path(tmp))
            rgba = render_mesh(obj, DIRECTION, size=512, half_extent=1.4, texture=obj_texture(obj))
            truth = rgba[..., 3] > 127
            alpha = rgba[..., 3:4] / 255.0
            ious = []
            for kind in kinds:
                composite = rgba[..., :3] * alpha + backdrop(kind, 512, rng) * (1 - alpha)
                start = time.perf_counter()
                mask = builtin_mask(Image.fromarray(np.clip(composite, 0, 255).astype(np.uint8))) > 0.5
                seconds.append(time.perf_counter() - start)
                ious.append((mask & truth).sum() / (mask | truth).sum())
            rows.append((name, ious))
    print(f"\nbuilt-in background removal, mask IoU (512² renders, {len(rows)} objects)")
    print(f"{'object':14}" + "".join(f"{k:>10}" for k in kinds))
    for name, ious in rows:
        print(f"{name:14}" + "".join(f"{v:10.3f}" for v in ious))
    means = np.mean([ious for _, ious in rows], axis=0)
    print(f"{'mean':14}" + "".join(f"{v:10.3f}" for v in means))
    print(f"median time per 512² image: {np.median(seconds) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
