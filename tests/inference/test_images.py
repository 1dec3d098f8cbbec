import numpy as np
import pytest

from inference.images.decode import ImageError, decode_image
from tests.support.images import write_bad_images, write_odd_good_images


def test_odd_but_valid_files_decode_to_upright_8bit_rgb_or_rgba(tmp_path):
    expected = write_odd_good_images(tmp_path)
    decoded = {name: decode_image((tmp_path / name).read_bytes(), name) for name in expected}
    for name, (width, height, mode) in expected.items():
        image = decoded[name].image
        assert (image.width, image.height, image.mode) == (width, height, mode), name

    red = np.asarray(decoded["cmyk.jpg"].image).reshape(-1, 3).mean(0)
    assert decoded["cmyk.jpg"].source_mode == "CMYK"
    assert red[0] > 220 and red[1] < 40 and red[2] < 40

    gray = np.asarray(decoded["gray16.png"].image)[0, :, 0].astype(int)
    assert decoded["gray16.png"].source_mode.startswith("I")
    np.testing.assert_array_equal(gray, (np.arange(64) * 1040) >> 8)  # scaled, not clipped at 255

    palette = np.asarray(decoded["palette_transparent.png"].image)
    assert (palette[:, :32, 3] == 0).all() and (palette[:, 32:, 3] == 255).all()
    assert (palette[:, 32:, :3] == [255, 0, 0]).all()

    gray_alpha = np.asarray(decoded["gray_alpha.png"].image)
    assert tuple(gray_alpha[5, 5]) == (128, 128, 128, 200)

    upright = np.asarray(decoded["exif_rotated.jpg"].image).astype(int)
    assert upright[5, 10, 0] > 200 and upright[5, 10, 2] < 60  # the red half is now on top
    assert upright[60, 10, 2] > 200 and upright[60, 10, 0] < 60


def test_bad_files_are_refused_with_a_message_naming_file_and_problem(tmp_path):
    for name, problem in write_bad_images(tmp_path).items():
        with pytest.raises(ImageError) as caught:
            decode_image((tmp_path / name).read_bytes(), name)
        assert str(caught.value).startswith(f"{name}: ")
        assert problem in str(caught.value)
