"""Images of any size are read without touching PIL's decompression-bomb guard for the rest of the process."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from samrs_hf.records import ImageReadError, SourceImage, open_rgb, read_size


def test_large_images_open_while_the_global_guard_stays(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # a 100x100 image is then a "bomb" (> 2 x 1000 px)
    path = tmp_path / "scene.png"
    Image.fromarray(np.arange(100 * 100 * 3, dtype=np.uint8).reshape(100, 100, 3)).save(path)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(path)
    assert read_size(path) == (100, 100)
    assert np.asarray(open_rgb(path)).shape == (100, 100, 3)
    assert Image.MAX_IMAGE_PIXELS == 1000


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
    path.write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"scene\.png: cannot read image: cannot identify"):
        read_size(path)


def test_size_is_checked_before_decoding(tmp_path):
    """A mis-sized truncated file reports the size mismatch: the pixels are never decoded."""
    path = tmp_path / "scene.png"
    data = _noise_png(path)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="image file is truncated"):
        SourceImage("scene", path, 200, 200, []).read()
    with pytest.raises(ValueError, match=r"scene\.png: image is 200x200 but its annotation says 100x200"):
        SourceImage("scene", path, 100, 200, []).read()
