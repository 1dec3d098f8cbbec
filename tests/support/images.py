"""Image files of every awkward kind studios send, written for tests."""

from __future__ import annotations

import functools
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def prop_image(seed: int, size: int = 48) -> Image.Image:
    """A small RGBA 'prop': a coloured disc on transparency, different for every seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    inside = (xx - size / 2) ** 2 + (yy - size / 2) ** 2 < (size * 0.4) ** 2
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = rng.integers(0, 256, 3, dtype=np.uint8)
    rgba[..., 3] = inside * 255
    rgba[0, 0, :3] = [seed % 256, seed // 256 % 256, 7]  # makes every seed's bytes unique
    return Image.fromarray(rgba, "RGBA")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decompression_bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny file whose header claims a huge picture."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b"")


def write_odd_good_images(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Supported odd formats; maps file name to the (width, height, mode) they must decode to."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("CMYK", (40, 30), (0, 255, 255, 0)).save(folder / "cmyk.jpg", quality=95)  # pure red
    gradient = (np.arange(64, dtype=np.uint32)[None, :].repeat(16, 0) * 1040).astype(np.uint16)
    Image.fromarray(gradient).save(folder / "gray16.png")
    palette = Image.new("P", (20, 10), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(0, (0, 0, 10, 10))
    palette.save(folder / "palette_transparent.png", transparency=0)
    Image.new("LA", (12, 12), (128, 200)).save(folder / "gray_alpha.png")
    rotated = Image.new("RGB", (40, 20), (0, 0, 255))
    rotated.paste((255, 0, 0), (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    rotated.save(folder / "exif_rotated.jpg", exif=exif.tobytes(), quality=95)
    return {
        "cmyk.jpg": (40, 30, "RGB"),
        "gray16.png": (64, 16, "RGB"),
        "palette_transparent.png": (20, 10, "RGBA"),
        "gray_alpha.png": (12, 12, "RGBA"),
        "exif_rotated.jpg": (20, 40, "RGB"),
    }


def write_bad_images(folder: Path) -> dict[str, str]:
    """Files that must be refused; maps file name to a fragment of the message expected."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zero.png").write_bytes(b"")
    (folder / "notes.png").write_text("this is a text file, not a picture\n")
    good = png_bytes(prop_image(1, 64))
    (folder / "truncated.png").write_bytes(good[: len(good) * 2 // 3])
    (folder / "bomb.png").write_bytes(decompression_bomb_png())
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return {
        "zero.png": "empty file",
        "notes.png": "not a recognised image",
        "truncated.png": "truncated",
        "bomb.png": "too large",
        "animated.gif": "animated image with 3 frames",
    }


def duck_view_pngs(size: int = 192) -> dict[str, bytes]:
    """The pybullet duck rendered in our four views: a real, textured object nobody here made, as PNG files."""
    return dict(_duck_view_pngs(size))


@functools.cache
def _duck_view_pngs(size: int) -> tuple[tuple[str, bytes], ...]:
    import tempfile

    import pybullet_data

    from inference.quality.evaluation import obj_texture, write_reference
    from inference.quality.render import render_views

    data = Path(pybullet_data.getDataPath())
    with tempfile.TemporaryDirectory() as folder:
        obj = write_reference("duck", data / "duck.obj", data / "duckCM.png", "y", 90, Path(folder))
        renders = render_views(obj, size=size, half_extent=1.3, texture=obj_texture(obj))
        return tuple((view, png_bytes(Image.fromarray(rgba, "RGBA"))) for view, rgba in renders.items())


def write_view_set(
    folder: Path, name: str, layout: str, views: tuple[str, ...] = ("front", "left", "back", "right"), size: int = 192
) -> Path:
    """The duck's views as one object in ``layout``: ``folder`` (name/front.png …), ``suffix`` (name_front.png …)
    or ``sidecar`` (name.views.json naming files that say nothing); returns what the set is reported as."""
    pngs = duck_view_pngs(size)
    folder.mkdir(parents=True, exist_ok=True)
    if layout == "folder":
        (folder / name).mkdir()
        for view in views:
            (folder / name / f"{view}.png").write_bytes(pngs[view])
        return folder / name
    if layout == "suffix":
        for view in views:
            (folder / f"{name}_{view}.png").write_bytes(pngs[view])
        return folder / name
    files = {view: f"{name}-shot{i}.png" for i, view in enumerate(views)}
    for view, file in files.items():
        (folder / file).write_bytes(pngs[view])
    sidecar = folder / f"{name}.views.json"
    sidecar.write_text(json.dumps({"views": files}))
    return sidecar
