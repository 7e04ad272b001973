"""Image files built byte by byte: bombs, EXIF-rotated photos and wide samples, as a downloaded dataset may hold.

Each builder returns the file's bytes (a few KiB at most), so a test writes what it needs where it needs it.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import ExifTags, Image

ORIENTATION = ExifTags.Base.Orientation


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(
    width: int,
    height: int,
    idat: bytes,
    bit_depth: int = 8,
    color_type: int = 2,
    before: bytes = b"",
    after: bytes = b"",
) -> bytes:
    """A PNG whose header says ``width`` x ``height``, with the chunks ``before`` and ``after`` its pixels."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    pixels = chunk(b"IDAT", idat)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + before + pixels + after + chunk(b"IEND", b"")


def zeros(size: int) -> bytes:
    """``size`` zero bytes, zlib-compressed (about 1 KiB per MiB)."""
    return zlib.compress(bytes(size), 9)


def bomb_png(side: int) -> bytes:
    """A ``side`` x ``side`` RGB PNG of 1 KiB: the header alone asks for ``3 side^2`` bytes."""
    return png(side, side, zeros(1000))


def text_bomb_pngs() -> dict[str, bytes]:
    """PNGs whose metadata inflates far beyond their size: a zTXt and an iCCP chunk of 2 MiB each, and
    80 zTXt chunks of 1 MiB."""
    small = zlib.compress(bytes(8 * 8 * 3 + 8))
    many = b"".join(chunk(b"zTXt", b"k%d\x00\x00" % i + zeros(2**20 - 1)) for i in range(80))
    return {
        "ztxt": png(8, 8, small, before=chunk(b"zTXt", b"k\x00\x00" + zeros(2 * 2**20))),
        "iccp": png(8, 8, small, before=chunk(b"iCCP", b"p\x00\x00" + zeros(2 * 2**20))),
        "ztxt_many": png(8, 8, small, before=many),
    }


def rgb16_png(width: int, height: int) -> bytes:
    """A 16-bit-per-sample RGB PNG (Pillow reads it as 8-bit RGB, keeping the high bytes)."""
    rows = b"".join(b"\x00" + bytes(i % 256 for i in range(6 * width)) for _ in range(height))
    return png(width, height, zlib.compress(rows), bit_depth=16)


def tiff_tile_bomb(side: int = 64, tile: int = 65536) -> bytes:
    """A ``side`` x ``side`` grey deflate TIFF whose one tile claims ``tile`` x ``tile`` pixels."""
    data = zeros(2**20)
    size_tags = [(256, side), (257, side), (322, tile), (323, tile)]  # width, length, tile width, tile length
    offset = 8 + 2 + 12 * 10 + 4
    tags = size_tags + [(258, 8), (259, 8), (262, 1), (277, 1), (324, offset), (325, len(data))]
    entries = b"".join(struct.pack("<HHII", tag, 4, 1, value) for tag, value in sorted(tags))  # all LONG
    return b"II*\x00" + struct.pack("<IH", 8, len(tags)) + entries + b"\x00" * 4 + data


def encoded(image: Image.Image, format: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **params)
    return buffer.getvalue()


def exif(orientation: int) -> Image.Exif:
    tags = Image.Exif()
    tags[ORIENTATION] = orientation
    return tags


def rotated_jpeg(pixels: np.ndarray, orientation: int = 6) -> bytes:
    """``pixels`` as a JPEG (quality 100) tagged with an EXIF orientation: shown turned, stored as is."""
    return encoded(Image.fromarray(pixels), "JPEG", quality=100, exif=exif(orientation))


def png_exif_after_pixels(pixels: np.ndarray, orientation: int = 6) -> bytes:
    """``pixels`` as a PNG whose eXIf chunk follows IDAT (Pillow sees it only once the pixels are decoded)."""
    data = encoded(Image.fromarray(pixels), "PNG")
    end = data.index(b"IEND") - 4
    return data[:end] + chunk(b"eXIf", exif(orientation).tobytes()) + data[end:]


def wide_sample_files(width: int = 12, height: int = 8) -> dict[str, bytes]:
    """One ``width`` x ``height`` file per kind of sample wider than 8 bits: what ``convert("RGB")`` would clamp
    or cut."""
    gradient = (np.arange(width * height, dtype=np.uint16).reshape(height, width) * 97) % 60000
    return {
        "gray16.png": encoded(Image.fromarray(gradient), "PNG"),
        "rgb16.png": rgb16_png(width, height),
        "gray16.tif": encoded(Image.fromarray(gradient), "TIFF"),
        "int32.tif": encoded(Image.fromarray(gradient.astype(np.int32)), "TIFF"),
        "float.tif": encoded(Image.fromarray(gradient.astype(np.float32) / 60000), "TIFF"),
    }
