import numpy as np
import pytest
from PIL import Image

from inference.images.background import BackgroundModelMissing, builtin_mask, has_meaningful_alpha, remove_background
from tests.support import SAMPLES


def backdrop(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    y = np.linspace(0, 1, size)[:, None, None]
    if kind == "plain":
        return np.full((size, size, 3), [246.0, 244.0, 240.0])
    if kind == "gradient":
        return np.broadcast_to((1 - y) * np.array([190, 210, 240]) + y * np.array([250, 248, 245]), (size, size, 3))
    blotches = np.asarray(Image.fromarray(rng.normal(0, 1, (8, 8)).astype(np.float32)).resize((size, size), Image.BICUBIC))
    return np.array([214, 206, 196]) + 6 * blotches[..., None] + rng.normal(0, 2.5, (size, size, 1))


@pytest.mark.parametrize("kind", ["plain", "gradient", "textured"])
def test_builtin_remover_recovers_the_object_on_studio_backdrops(kind):
    cutout = np.asarray(Image.open(SAMPLES / "soccer_ball.png").convert("RGBA"), np.float64)
    truth = cutout[..., 3] > 127
    alpha = cutout[..., 3:4] / 255
    composite = cutout[..., :3] * alpha + backdrop(kind, cutout.shape[0], np.random.default_rng(1)) * (1 - alpha)
    mask = builtin_mask(Image.fromarray(np.clip(composite, 0, 255).astype(np.uint8))) > 0.5
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou > 0.95, f"mask IoU {iou:.3f} on a {kind} backdrop"


def test_existing_alpha_is_kept_and_flat_alpha_is_not_trusted():
    cutout = Image.open(SAMPLES / "soccer_ball.png").convert("RGBA")
    assert has_meaningful_alpha(cutout)
    assert np.array_equal(np.asarray(remove_background(cutout)), np.asarray(cutout))
    opaque = cutout.convert("RGB").convert("RGBA")
    assert not has_meaningful_alpha(opaque)
    assert not has_meaningful_alpha(Image.open(SAMPLES / "duck.png"))


def test_uniform_image_has_no_object():
    assert builtin_mask(Image.new("RGB", (64, 64), (200, 200, 200))).max() == 0


def test_missing_rembg_model_names_the_file_expected(tmp_path, monkeypatch):
    monkeypatch.setenv("REMBG_HOME", str(tmp_path))
    with pytest.raises(BackgroundModelMissing, match=f"{tmp_path}/u2net.onnx"):
        remove_background(Image.open(SAMPLES / "duck.png"), method="u2net")
