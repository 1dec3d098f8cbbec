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


def test_a_picture_larger_than_the_working_size_is_cut_out_at_a_bounded_size():
    """An 8000² picture used to be cut out at full size (9 GB of memory); now the mask is made at MAX_MASK_SIDE
    and the view is worked on at MAX_WORK_SIDE, with the object's outline where it was drawn."""
    from PIL import ImageDraw

    from inference.images.background import MAX_MASK_SIDE
    from inference.pipeline import MAX_WORK_SIDE, cut_out

    width, height = MAX_WORK_SIDE + 904, (MAX_WORK_SIDE + 904) // 2  # wider than the working size and the mask size
    image = Image.new("RGB", (width, height), (240, 240, 236))
    box = (width // 4, height // 4, 3 * width // 4, 3 * height // 4)
    ImageDraw.Draw(image).ellipse(box, fill=(180, 40, 30))
    alpha = np.asarray(remove_background(image).getchannel("A")) > 127
    truth = _ellipse_mask(image.size, box)
    assert alpha.shape == truth.shape and max(image.size) > MAX_MASK_SIDE
    assert (alpha & truth).sum() / (alpha | truth).sum() > 0.99
    cut = cut_out(image, "front")
    assert max(cut.size) <= MAX_WORK_SIDE
    scale = MAX_WORK_SIDE / width  # the ellipse, scaled into the working size, with the cut-out's small margin
    assert abs(cut.width - (box[2] - box[0]) * scale * 1.06) < 12


def _ellipse_mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]]
    cx, cy, rx, ry = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    return ((xs + 0.5 - cx) / rx) ** 2 + ((ys + 0.5 - cy) / ry) ** 2 <= 1
