import numpy as np
import pytest
import trimesh
from PIL import Image

from inference.images.decode import encode_png
from inference.quality.render import render_views
from inference.views import VIEW_NAMES, FramedViews, ViewError, frame_views, project


def test_renderer_and_projection_agree_on_the_view_convention(tmp_path):
    """A box off-centre towards +X, +Y, +Z lands where `project` says, in every view."""
    box = trimesh.creation.box(extents=[0.4, 0.4, 0.4])
    box.apply_translation([0.5, 0.3, 0.5])
    box.export(tmp_path / "box.obj")
    renders = render_views(tmp_path / "box.obj", VIEW_NAMES, size=200)
    expected = {"front": (150, 70), "left": (50, 70), "back": (50, 70), "right": (150, 70)}
    for name, image in renders.items():
        ys, xs = np.nonzero(image[..., 3])
        px, py, _ = project(np.array([[0.5, 0.3, 0.5]]), name, 200)
        assert abs(xs.mean() + 0.5 - px[0]) < 2 and abs(ys.mean() + 0.5 - py[0]) < 2, name
        assert (round(px[0]), round(py[0])) == expected[name]


def disc(size: int, radius: float, centre=(0.5, 0.5), width: int | None = None) -> Image.Image:
    width = width or size
    yy, xx = np.mgrid[:size, :width]
    inside = (xx - centre[0] * width) ** 2 + (yy - centre[1] * size) ** 2 < (radius * size) ** 2
    rgba = np.zeros((size, width, 4), np.uint8)
    rgba[inside] = [200, 40, 40, 255]
    return Image.fromarray(rgba, "RGBA")


def test_framing_centres_and_scales_the_object():
    framed = frame_views({"front": disc(300, 0.2, centre=(0.3, 0.7))}, 256)
    ys, xs = np.nonzero(framed.mask("front"))
    assert abs(xs.mean() - 128) < 2 and abs(ys.mean() - 128) < 2
    assert abs((xs.max() - xs.min() + 1) / 256 - 0.9) < 0.02  # largest extent spans 1.8 of 2 units


def test_views_of_different_framing_are_brought_to_one_scale_with_a_warning():
    with pytest.warns(UserWarning, match=r"left view: object is 119 px tall but 59 px in the front view; rescaled"):
        framed = frame_views({"front": disc(300, 0.1), "left": disc(600, 0.1)}, 128)
    heights = [np.ptp(np.nonzero(framed.mask(v))[0]) for v in ("front", "left")]
    assert abs(heights[0] - heights[1]) <= 2


def test_a_contradicting_back_view_is_left_out_with_a_warning():
    bar = np.zeros((200, 200, 4), np.uint8)
    bar[20:180, 90:110] = [10, 10, 200, 255]
    with pytest.warns(UserWarning, match="back view contradicts the front view"):
        framed = frame_views({"front": disc(200, 0.4), "back": Image.fromarray(bar, "RGBA")}, 128)
    assert set(framed.images) == {"front"}


def test_unusable_views_are_refused_by_name():
    with pytest.raises(ViewError, match="left view: no object found"):
        frame_views({"front": disc(100, 0.3), "left": Image.new("RGBA", (100, 100))}, 64)
    with pytest.raises(ViewError, match=r"front view: the object is only 3×3 pixels; at least 16×16 is needed"):
        frame_views({"front": disc(100, 0.02)}, 64)
    with pytest.raises(ViewError, match="a front view is required"):
        frame_views({"left": disc(100, 0.3)}, 64)
    with pytest.raises(ViewError, match="unknown view name"):
        frame_views({"front": disc(100, 0.3), "top": disc(100, 0.3)}, 64)


def test_framed_views_survive_storage_exactly():
    """The image stages store the framed views as PNGs and the 3D stages read them back: nothing may change."""
    with pytest.warns(UserWarning):
        framed = frame_views({"front": disc(300, 0.2), "left": disc(280, 0.15, width=300)}, 128)
    again = FramedViews.from_pngs(framed.to_pngs(), framed.warnings)
    assert set(again.images) == {"front", "left"} and again.warnings == framed.warnings
    for name, rgba in framed.images.items():
        assert again.images[name].dtype == np.float32 and np.array_equal(again.images[name], rgba), name


def test_a_stored_view_that_is_not_a_framed_picture_is_refused_by_name():
    with pytest.raises(ViewError, match=r"framed left view: expected a square RGBA picture, got RGB 30×20"):
        FramedViews.from_pngs({"left": encode_png(Image.new("RGB", (30, 20)))})
