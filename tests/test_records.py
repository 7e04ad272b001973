"""Image reads: the pixel limit from the header, one frame for EXIF-rotated files, 8-bit samples only, and
every bad file one ImageReadError naming it, while Pillow's process-wide guard is never touched."""

from __future__ import annotations

import struct
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from datasets import Image as ImageFeature
from hostile_images import (
    bomb_png,
    chunk,
    png_exif_after_pixels,
    rotated_jpeg,
    text_bomb_pngs,
    tiff_tile_bomb,
    wide_sample_files,
)
from PIL import Image, ImageOps

from samrs_hf.records import (
    DEFAULT_MAX_IMAGE_PIXELS,
    ImageReadError,
    SourceImage,
    decode_rgb,
    max_image_pixels,
    open_rgb,
    read_size,
    set_max_image_pixels,
)


@pytest.fixture
def pixel_limit():
    """Set the library's pixel limit for one test (it is process-wide), restored after."""
    yield set_max_image_pixels
    set_max_image_pixels(DEFAULT_MAX_IMAGE_PIXELS)


def _stored_pixels(data: bytes) -> np.ndarray:
    """What ``datasets`` loads from an Image column holding ``data``."""
    return np.asarray(ImageFeature().decode_example({"bytes": data, "path": None}).convert("RGB"))


def test_large_images_open_in_threads_while_pillows_guard_stays(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # a 100x100 image is then a "bomb" (> 2 x 1000 px)
    path = tmp_path / "scene.png"
    Image.fromarray(np.arange(100 * 100 * 3, dtype=np.uint8).reshape(100, 100, 3)).save(path)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(path)
    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(lambda _: open_rgb(path).size, range(16))) == {(100, 100)}
    assert read_size(path) == (100, 100) and Image.MAX_IMAGE_PIXELS == 1000


def test_the_pixel_limit_refuses_from_the_header_and_names_the_flag(tmp_path, pixel_limit):
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(100_000))  # 74 bytes, 30 GB as RGB
    for read in (read_size, open_rgb, lambda p: SourceImage("bomb", p, 100_000, 100_000, []).read()):
        with pytest.raises(ImageReadError, match=r"bomb\.png: cannot read image: 100000x100000 = 10,000,000,000 px "
                           r"is over the limit of 1,073,741,824 px; .* --max-image-pixels N"):  # fmt: skip
            read(path)
    small = tmp_path / "small.png"
    Image.new("RGB", (8, 8)).save(small)
    pixel_limit(63)
    assert max_image_pixels() == 63
    with pytest.raises(ImageReadError, match="8x8 = 64 px is over the limit of 63 px"):
        read_size(small)
    pixel_limit(64)
    assert read_size(small) == (8, 8)
    with pytest.raises(ValueError, match="positive integer, got 0"):
        pixel_limit(0)


def test_an_exif_rotated_jpeg_comes_in_its_annotations_frame(tmp_path):
    """Orientation 6 (shown turned 90 degrees clockwise): stored 40x30, displayed 30x40."""
    pixels = np.zeros((30, 40, 3), np.uint8)
    pixels[:6, :10] = 255  # a bright object in the stored top-left corner
    path = tmp_path / "photo.jpg"
    path.write_bytes(rotated_jpeg(pixels))
    with Image.open(path) as file:
        stored, displayed = np.asarray(file.convert("RGB")), np.asarray(ImageOps.exif_transpose(file).convert("RGB"))
    assert read_size(path) == (30, 40)  # the displayed size, from the header alone
    for frame, expected in (((30, 40), displayed), (None, displayed), ((40, 30), stored)):
        decoded = decode_rgb(path, frame)
        assert np.array_equal(np.asarray(decoded.rgb), expected) and not decoded.stored_as_is
        assert "exif" not in decoded.rgb.info
    assert np.array_equal(_stored_pixels(path.read_bytes()), displayed)  # why its bytes are never stored as is
    with pytest.raises(ValueError, match=r"photo\.jpg: image is 40x30 but its annotation says 30x30"):
        decode_rgb(path, (30, 30))


def test_square_images_and_flips_take_the_displayed_frame(tmp_path):
    pixels = np.zeros((20, 20, 3), np.uint8)
    pixels[:4, :8] = 255
    for orientation in (3, 6):
        path = tmp_path / f"o{orientation}.jpg"
        path.write_bytes(rotated_jpeg(pixels, orientation))
        decoded = decode_rgb(path, (20, 20))
        assert np.array_equal(np.asarray(decoded.rgb), _stored_pixels(path.read_bytes()))


def test_a_png_orientation_after_its_pixels_is_seen_once_decoded(tmp_path):
    pixels = np.zeros((30, 40, 3), np.uint8)
    pixels[:6, :10] = 255
    path = tmp_path / "late.png"
    path.write_bytes(png_exif_after_pixels(pixels))
    assert read_size(path) == (40, 30)  # the header holds no orientation
    assert np.array_equal(np.asarray(decode_rgb(path, (40, 30)).rgb), pixels)
    shown = decode_rgb(path)
    assert np.array_equal(np.asarray(shown.rgb), _stored_pixels(path.read_bytes())) and not shown.stored_as_is


def test_plain_rgb_files_are_stored_as_is_and_others_re_encoded(tmp_path):
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8))
    cases = {"plain.jpg": (rgb, True), "plain.png": (rgb, True), "gray.png": (rgb.convert("L"), False),
             "plain.bmp": (rgb, False)}  # fmt: skip
    for name, (image, as_is) in cases.items():
        image.save(tmp_path / name)
        assert decode_rgb(tmp_path / name).stored_as_is is as_is, name
    padded = tmp_path / "padded.png"
    padded.write_bytes((tmp_path / "plain.png").read_bytes() + bytes(2**21))  # more than its pixels
    assert np.array_equal(np.asarray(decode_rgb(padded).rgb), np.asarray(rgb))
    assert not decode_rgb(padded).stored_as_is


@pytest.mark.parametrize(
    ("name", "kind"),
    [("gray16.png", "16-bit integer samples \\(mode I;16\\)"), ("rgb16.png", "16-bit integer samples \\(mode RGB\\)"),
     ("gray16.tif", "16-bit integer samples \\(mode I;16\\)"), ("int32.tif", "32-bit integer samples \\(mode I\\)"),
     ("float.tif", "32-bit float samples \\(mode F\\)")],
)  # fmt: skip
def test_samples_wider_than_8_bits_are_refused_with_the_fix(tmp_path, name, kind):
    path = tmp_path / name
    path.write_bytes(wide_sample_files()[name])
    with pytest.raises(ImageReadError, match=rf"{name}: cannot read image: {kind}; .*`gdal_translate -ot Byte -scale"):
        SourceImage("wide", path, 12, 8, []).read()


def test_metadata_bombs_tile_bombs_and_other_formats_are_one_named_error(tmp_path):
    files = {f"{name}.png": data for name, data in text_bomb_pngs().items()}
    files |= {"tile.tif": tiff_tile_bomb(), "anim.gif": b"GIF89a" + bytes(20), "empty.png": b""}
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ImageReadError, match=rf"^{path}: cannot read image: "):
            open_rgb(path)
    Image.new("RGB", (4, 4)).save(tmp_path / "real.gif")
    with pytest.raises(ImageReadError, match="not a BMP, JPEG, PNG or TIFF image Pillow can read"):
        read_size(tmp_path / "real.gif")


def test_exif_pillow_cannot_parse_is_read_past_and_never_stored(tmp_path):
    """A truncated eXIf chunk makes Pillow's getexif raise struct.error: ``datasets`` could not load the file."""
    pixels = np.full((6, 8, 3), 90, np.uint8)
    data = png_exif_after_pixels(pixels)
    start = data.index(b"eXIf") - 4
    end = start + 12 + int.from_bytes(data[start : start + 4], "big")
    path = tmp_path / "bad_exif.png"
    path.write_bytes(data[:start] + chunk(b"eXIf", data[start + 8 : start + 20]) + data[end:])
    with pytest.raises(struct.error):
        _stored_pixels(path.read_bytes())
    decoded = decode_rgb(path, (8, 6))
    assert np.array_equal(np.asarray(decoded.rgb), pixels) and not decoded.stored_as_is


def test_read_names_the_file_on_a_size_mismatch_or_unreadable_bytes(tmp_path):
    path = tmp_path / "tile.png"
    Image.new("RGBA", (8, 6)).save(path)
    assert SourceImage("tile", path, 8, 6, []).read().mode == "RGB"
    with pytest.raises(ValueError, match=r"tile\.png: image is 8x6 but its annotation says 8x7"):
        SourceImage("tile", path, 8, 7, []).read()
    path.write_bytes(b"not an image")
    with pytest.raises(OSError, match=r"tile\.png: cannot read image"):
        SourceImage("tile", path, 8, 6, []).read()


def _noise_png(path, size=(200, 200)):
    """An RGB noise PNG: over 64 KiB compressed, so Pillow writes two IDAT chunks."""
    pixels = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path.read_bytes()


def test_corrupt_decoding_raises_image_read_error_naming_the_file(tmp_path):
    """Pillow raises SyntaxError for a broken chunk met while decoding; read() names the file in an OSError."""
    path = tmp_path / "scene.png"
    data = _noise_png(path)
    second_idat = data.index(b"IDAT", 100)
    path.write_bytes(data[:second_idat] + b"\x82\xd2c\xd8" + data[second_idat + 4 :])
    assert read_size(path) == (200, 200)  # the header is intact
    with pytest.raises(ImageReadError, match=r"scene\.png: cannot read image: broken PNG file"):
        SourceImage("scene", path, 200, 200, []).read()
    with pytest.raises(ImageReadError, match=r"scene\.png: cannot read image: broken PNG file"):
        open_rgb(path)


def test_size_is_checked_before_decoding(tmp_path):
    """A mis-sized truncated file reports the size mismatch: the pixels are never decoded."""
    path = tmp_path / "scene.png"
    data = _noise_png(path)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="image file is truncated"):
        SourceImage("scene", path, 200, 200, []).read()
    SourceImage("scene", path, 200, 200, []).check_header()
    for check in (SourceImage.read, SourceImage.check_header):
        with pytest.raises(ValueError, match=r"scene\.png: image is 200x200 but its annotation says 100x200"):
            check(SourceImage("scene", path, 100, 200, []))


def test_the_header_check_admits_either_frame_and_refuses_wide_samples(tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(rotated_jpeg(np.zeros((30, 40, 3), np.uint8)))
    for size in ((30, 40), (40, 30)):
        SourceImage("photo", photo, *size, []).check_header()
    wide = tmp_path / "float.tif"
    wide.write_bytes(wide_sample_files()["float.tif"])
    with pytest.raises(ImageReadError, match="32-bit float samples"):
        SourceImage("wide", wide, 12, 8, []).check_header()
