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
    # every one at least 32 pixels a side, the least ``convert`` works with (and so ingest accepts)
    Image.new("CMYK", (48, 36), (0, 255, 255, 0)).save(folder / "cmyk.jpg", quality=95)  # pure red
    gradient = (np.arange(64, dtype=np.uint32)[None, :].repeat(32, 0) * 1040).astype(np.uint16)
    Image.fromarray(gradient).save(folder / "gray16.png")
    palette = Image.new("P", (64, 32), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(0, (0, 0, 32, 32))
    palette.save(folder / "palette_transparent.png", transparency=0)
    Image.new("LA", (32, 32), (128, 200)).save(folder / "gray_alpha.png")
    rotated = Image.new("RGB", (80, 40), (0, 0, 255))
    rotated.paste((255, 0, 0), (0, 0, 40, 40))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    rotated.save(folder / "exif_rotated.jpg", exif=exif.tobytes(), quality=95)
    return {
        "cmyk.jpg": (48, 36, "RGB"),
        "gray16.png": (64, 32, "RGB"),
        "palette_transparent.png": (64, 32, "RGBA"),
        "gray_alpha.png": (32, 32, "RGBA"),
        "exif_rotated.jpg": (40, 80, "RGB"),
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


def write_input_corpus(folder: Path) -> tuple[set[str], dict[str, str]]:
    """The files a studio's folders hold, good and bad: formats, sizes, names and links. Returns the names that
    must be ingested and, for each that must be refused, a fragment of its one-line reason."""
    import os

    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    good: dict[str, bytes | None] = {}
    bad: dict[str, str] = {}

    def picture(seed: int, size: tuple[int, int] = (48, 36), mode: str = "RGB") -> Image.Image:
        rng = np.random.default_rng(seed)
        channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
        pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
        return Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode)

    def save(name: str, image: Image.Image, **options: object) -> None:
        image.save(folder / name, **options)
        good[name] = None

    # formats that must be read
    save("plain.png", picture(1))
    save("alpha.png", picture(2, mode="RGBA"))
    save("photo.jpg", picture(3), quality=90)
    save("photo.jpeg", picture(4), quality=90)
    save("photo.jfif", picture(5), format="JPEG")
    save("cmyk.jpg", Image.new("CMYK", (48, 36), (0, 255, 255, 0)), quality=95)
    save("grey.png", picture(6, mode="L"))
    save("grey16.png", Image.fromarray((np.arange(48 * 36, dtype=np.uint16).reshape(36, 48) * 50).astype(np.uint16)))
    save("lossy.webp", picture(7), quality=80)
    save("lossless-alpha.webp", picture(8, mode="RGBA"), lossless=True)
    save("still.avif", picture(9), quality=70)
    save("plain.bmp", picture(10))
    save("plain.tga", picture(11))
    save("still.gif", picture(12).convert("P"))
    save("eight-bit.tif", picture(13))
    save("deflate.tiff", picture(14), compression="tiff_adobe_deflate")
    for name, values in (
        ("rgb16.tif", np.random.default_rng(15).integers(0, 65536, (36, 48, 3), dtype=np.uint16)),
        ("float32.tif", np.random.default_rng(16).random((36, 48, 3), dtype=np.float32)),
        ("half-float.tif", np.random.default_rng(17).random((36, 48, 3)).astype(np.float16)),
        ("hdr-float.tif", np.random.default_rng(18).random((36, 48, 3), dtype=np.float32) * 12),
        ("grey10.tif", np.random.default_rng(19).integers(0, 1024, (36, 48), dtype=np.uint16)),
    ):
        tifffile.imwrite(folder / name, values, photometric="rgb" if values.ndim == 3 else "minisblack")
        good[name] = None
    # a JPEG named .png
    save("jpeg-named.png", picture(23), format="JPEG")
    # names
    for i, name in enumerate(["with space.png", "ünïcödé-名前.png", "-leading-dash.png", "new\nline.png", "quote'and\"double.png",
                              "emoji-🦆.png", "x" * 200 + ".png", "UPPER.PNG"]):  # fmt: skip
        save(name, picture(30 + i))
    (folder / "nested" / "deeper").mkdir(parents=True)
    save("nested/deeper/inside.png", picture(40))
    os.symlink("plain.png", folder / "link-to-plain.png")  # a link to a file: followed (same content: a duplicate)
    os.symlink("nested", folder / "link-to-nested")  # a second way into a folder: searched once
    good["link-to-plain.png"] = None
    (folder / "prompt.txt").write_text("a wooden chest, isometric")  # not a picture: passed over in silence
    (folder / ".hidden.png").write_bytes(b"not looked at")

    # what must be refused, each with its reason
    def write(name: str, data: bytes, reason: str) -> None:
        (folder / name).write_bytes(data)
        bad[name] = reason

    # sizes convert cannot work with: thin strips, a single pixel, a thumbnail (refused at ingest, not later)
    small = {"one-by-n.png": (1, 500), "n-by-one.png": (500, 1), "one-pixel.png": (1, 1), "thumb.png": (31, 40)}
    for seed, (name, size) in enumerate(small.items(), start=20):
        write(name, png_bytes(picture(seed, size)), f"image is {size[0]}×{size[1]}; at least 32×32 pixels are needed")
    write("zero.png", b"", "empty file")
    write("text.png", b"just some words\n", "not a recognised image")
    write("text.jpg", b"\xff\xd8\xff\xe0 and then nothing like a JPEG", "cannot read image header")
    clean = png_bytes(picture(50))
    write("truncated.png", clean[: len(clean) // 2], "truncated")
    write("bad-crc.png", clean[:40] + bytes([clean[40] ^ 0xFF]) + clean[41:], "corrupt header")
    write("bomb.png", decompression_bomb_png(), "too large")
    write("wide-bomb.png", decompression_bomb_png(200_000, 400), "Mpx limit")
    jpeg = io.BytesIO()
    picture(51).save(jpeg, format="JPEG")
    sof = jpeg.getvalue().index(b"\xff\xc0")
    header_bomb = bytearray(jpeg.getvalue())
    header_bomb[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
    write("header-bomb.jpg", bytes(header_bomb), "too large")
    text = _png_chunk(b"tEXt", b"Comment\0" + b"x" * 3_000_000)  # a 3 MB metadata chunk: a valid PNG all the same
    (folder / "huge-metadata.png").write_bytes(clean[:33] + text + clean[33:])
    good["huge-metadata.png"] = None
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    for name, options in (("animated.gif", {}), ("animated.webp", {}), ("animated.png", {"format": "PNG"})):
        frames[0].save(folder / name, save_all=True, append_images=frames[1:], duration=100, loop=0, **options)
        bad[name] = "animated image with 3 frames"
    write("photo.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, "HEIC")
    write("heic-named.jpg", b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic" + b"\x00" * 64, "HEIC/HEIF")
    write("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG")
    write("svg-named.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG")
    write("sheet.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF")
    write("layers.psd", b"8BPS\x00\x01" + b"\x00" * 64, "Photoshop")
    write("render.exr", b"\x76\x2f\x31\x01" + b"\x00" * 64, "OpenEXR")
    write("sky.hdr", b"#?RADIANCE\n", "Radiance HDR")
    write("next.jxl", b"\xff\x0a" + b"\x00" * 32, "JPEG XL")
    write("raw.dng", b"II*\x00" + b"\x00" * 32, "camera raw")
    write("corrupt.tif", b"II*\x00" + b"\xff" * 64, "TIFF")
    write("gzip.tiff", b"\x1f\x8b\x08\x00" + b"\x00" * 64, "not a recognised image")
    os.mkfifo(folder / "pipe.png")
    bad["pipe.png"] = "not a regular file"
    os.symlink("no-such-file.png", folder / "dangling.png")
    bad["dangling.png"] = "dangling link"
    os.symlink("self-loop.png", folder / "self-loop.png")
    bad["self-loop.png"] = "link loop"
    os.symlink("..", folder / "nested" / "up")  # back to the folder being searched
    bad["nested/up"] = "link loop"
    return set(good), bad
