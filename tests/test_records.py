"""Images of any size are read without touching PIL's decompression-bomb guard for the rest of the process."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from samrs_hf.records import SourceImage, open_rgb, read_size


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
