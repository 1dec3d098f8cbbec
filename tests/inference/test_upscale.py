import numpy as np
import pytest
from PIL import Image

from inference.images.upscale import upscale_image


@pytest.mark.parametrize("factor", [1, 2, 4])
def test_upscaling_multiplies_size_and_keeps_alpha(factor):
    rgba = np.zeros((40, 30, 4), np.uint8)
    rgba[10:30, 5:25] = [200, 30, 30, 255]
    image = upscale_image(Image.fromarray(rgba, "RGBA"), factor)
    assert image.size == (30 * factor, 40 * factor) and image.mode == "RGBA"
    alpha = np.asarray(image.getchannel("A"))
    assert alpha[20 * factor, 15 * factor] == 255 and alpha[2, 2] == 0
    inside = np.asarray(image)[20 * factor, 15 * factor, :3].astype(int)
    assert abs(inside - [200, 30, 30]).max() <= 6  # colour kept inside the object


def test_unsupported_factor_is_refused():
    with pytest.raises(ValueError, match="upscale factor 3 is not supported: choose 1, 2 or 4"):
        upscale_image(Image.new("RGB", (8, 8)), 3)
