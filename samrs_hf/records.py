"""The records that flow from the readers through tiling and labelling (objects and images), and image reading.

Readers (:mod:`samrs_hf.sources`) produce the records, :mod:`samrs_hf.labeling` consumes them; neither
stage owns them. Every source image is read here, under three rules (README, "Input images"):

* **Pixel limit**: an image of more than :func:`max_image_pixels` pixels is refused from its header,
  before anything is decoded (:data:`DEFAULT_MAX_IMAGE_PIXELS`; :func:`set_max_image_pixels`, the
  CLI's ``--max-image-pixels``). Pillow's own guard, ``PIL.Image.MAX_IMAGE_PIXELS``, refuses DOTA's
  400 Mpx scenes and is one process-wide number that would have to be changed around each read,
  racing with other threads: samrs-hf leaves it alone and identifies files with Pillow's registered
  openers as ``Image.open`` does, minus that check. (Pillow checks a TIFF again when decoding it.)
* **One frame**: pixels come back in the frame of the annotation's size, with or without their EXIF
  orientation (:func:`decode_rgb`); with no annotation, in the displayed frame (orientation applied).
* **8 bits per sample**: 16-bit, 32-bit and float images are refused (no stretch suits every sensor).

Everything a file can do wrong raises :class:`ImageReadError` (an ``OSError``) naming the file; a
size other than the annotation's raises ``ValueError``. PIL's ``LOAD_TRUNCATED_IMAGES`` stays off:
truncated data is never padded.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import ExifTags, Image, ImageFile, ImageOps, TiffImagePlugin

__all__ = [
    "DEFAULT_MAX_IMAGE_PIXELS",
    "DecodedImage",
    "ImageReadError",
    "SourceImage",
    "SourceObject",
    "decode_rgb",
    "load_pixels",
    "max_image_pixels",
    "open_image",
    "open_rgb",
    "read_size",
    "set_max_image_pixels",
    "stored_as_is",
]

DEFAULT_MAX_IMAGE_PIXELS = 2**30
"""1,073,741,824 px (32768 x 32768; 3 GiB as RGB), OpenCV's default limit: 2.7x DOTA-v2.0's largest scenes
(20000 x 20000)."""
FORMATS = ("BMP", "JPEG", "PNG", "TIFF")
"""The file formats of every supported source; Pillow's other decoders are never reached."""
LIMIT_FLAG = "--max-image-pixels"
_ORIENTATION = ExifTags.Base.Orientation
_PIL_ERRORS = (OSError, SyntaxError, ValueError, NotImplementedError, OverflowError)
"""What Pillow raises for a corrupt file (the exceptions its own fuzz tests accept)."""
_OPENER_ERRORS = (SyntaxError, IndexError, TypeError, struct.error)
"""What a Pillow opener raises for a file that is not its format (``Image.open`` tries the next one)."""
_max_pixels = DEFAULT_MAX_IMAGE_PIXELS


class ImageReadError(OSError):
    """An image file that cannot be opened or decoded; the message names the file and the reason."""


def set_max_image_pixels(pixels: int) -> None:
    """Refuse images of more than ``pixels`` pixels from now on, in every thread (set it before reading)."""
    global _max_pixels
    if isinstance(pixels, bool) or not isinstance(pixels, int) or pixels < 1:
        raise ValueError(f"the image pixel limit must be a positive integer, got {pixels!r}")
    _max_pixels = pixels


def max_image_pixels() -> int:
    """The pixel limit images are read under (:func:`set_max_image_pixels`)."""
    return _max_pixels


@contextmanager
def _naming(path: str | Path) -> Iterator[None]:
    """Pillow's errors for a bad file as :class:`ImageReadError` naming it (our own pass through)."""
    try:
        yield
    except ImageReadError:
        raise
    except Image.DecompressionBombError as error:  # Pillow's own check of a TIFF when decoding it
        raise _error(path, f"{error} (Pillow's own limit for TIFFs: raise PIL.Image.MAX_IMAGE_PIXELS)") from None
    except _PIL_ERRORS as error:
        raise _error(path, str(error)) from None
    except MemoryError:
        raise _error(path, "not enough memory to decode it") from None


def _error(path: str | Path, reason: str) -> ImageReadError:
    return ImageReadError(f"{path}: cannot read image: {reason}")


def _identify(fp: BinaryIO, path: str | Path) -> ImageFile.ImageFile:
    """The header of ``fp`` parsed by the first of Pillow's :data:`FORMATS` openers that accepts it."""
    Image.init()
    prefix = fp.read(16)
    refusals = []
    for name in FORMATS:
        factory, accept = Image.OPEN[name]
        if accept(prefix) is True:  # (an opener may answer a string: why it cannot)
            fp.seek(0)
            try:
                return factory(fp, str(path))
            except _OPENER_ERRORS as error:
                refusals.append(f"{name}: {error}")
    why = f" ({'; '.join(refusals)})" if refusals else ""
    raise Image.UnidentifiedImageError(f"not a {', '.join(FORMATS[:-1])} or {FORMATS[-1]} image Pillow can read{why}")


def _check_pixels(image: Image.Image, path: str | Path) -> None:
    width, height = image.size
    if width * height > _max_pixels:
        raise _error(
            path,
            f"{width}x{height} = {width * height:,} px is over the limit of {_max_pixels:,} px; if it is a real "
            f"image, raise the limit with {LIMIT_FLAG} N (set_max_image_pixels in Python)",
        )


@contextmanager
def open_image(path: str | Path) -> Iterator[ImageFile.ImageFile]:
    """The image at ``path``, its header read and its size checked against the pixel limit (nothing decoded);
    :class:`ImageReadError` names the file. Decode its pixels inside the block with
    :func:`load_pixels`, so that a file cut short or damaged is an :class:`ImageReadError` naming it too."""
    with ExitStack() as files:
        with _naming(path):
            image = _identify(files.enter_context(open(path, "rb")), path)
        _check_pixels(image, path)
        yield image


def load_pixels(image: ImageFile.ImageFile, path: str | Path) -> ImageFile.ImageFile:
    """Decode ``image``, opened from ``path`` by :func:`open_image`; returns it. A file cut short or damaged is an
    :class:`ImageReadError` naming ``path``."""
    with _naming(path):
        image.load()
    return image


def _bits_per_sample(image: ImageFile.ImageFile) -> int:
    """Bits per sample in the file (Pillow reads a 16-bit RGB PNG or TIFF as 8-bit RGB, keeping the high bytes)."""
    if image.format == "TIFF":
        bits = image.tag_v2.get(TiffImagePlugin.BITSPERSAMPLE, 1)
        return max(bits) if isinstance(bits, tuple) else bits
    if image.format == "PNG" and image.tile:
        return 16 if str(image.tile[0].args).endswith(";16B") else 8  # the raw mode, e.g. "RGB;16B"
    return 8


def _check_depth(image: ImageFile.ImageFile, path: str | Path) -> None:
    bits = _bits_per_sample(image)
    if bits > 8 or image.mode in ("I", "F") or image.mode.startswith("I;16"):
        kind = "float" if image.mode == "F" else "integer"
        raise _error(
            path,
            f"{max(bits, 16)}-bit {kind} samples (mode {image.mode}); samrs-hf reads 8-bit images and does not guess "
            f"a stretch: convert it to 8-bit RGB first, e.g. `gdal_translate -ot Byte -scale {path} out.tif`",
        )


@dataclass
class DecodedImage:
    """An image's RGB pixels in the annotation's frame, and whether the file's own bytes are those pixels."""

    rgb: Image.Image
    stored_as_is: bool
    """An RGB file that ``datasets`` loads as exactly ``rgb`` (:func:`stored_as_is`): store its bytes unchanged."""


def _transposed(size: tuple[int, int]) -> tuple[int, int]:
    return size[1], size[0]


def _orientation(image: ImageFile.ImageFile) -> int | None:
    """The EXIF orientation as ``datasets`` reads it (``None``: none; 0: EXIF data Pillow cannot parse)."""
    try:
        return image.getexif().get(_ORIENTATION)
    except (*_PIL_ERRORS, *_OPENER_ERRORS):
        return 0


def _size_error(path: str | Path, size: tuple[int, int], frame: tuple[int, int]) -> ValueError:
    return ValueError(f"{path}: image is {size[0]}x{size[1]} but its annotation says {frame[0]}x{frame[1]}")


def _check_header(image: ImageFile.ImageFile, path: str | Path, frame: tuple[int, int] | None) -> None:
    """What the header tells: 8-bit samples, and a size that is ``frame``, turned or not."""
    if frame is not None and frame not in (image.size, _transposed(image.size)):
        raise _size_error(path, image.size, frame)
    _check_depth(image, path)


def decode_rgb(path: str | Path, frame: tuple[int, int] | None = None) -> DecodedImage:
    """Decode the image at ``path`` as 8-bit RGB in the frame of ``frame`` = the annotation's ``(width, height)``.

    The EXIF orientation is applied when the annotation's size is the displayed one, also when both
    fit (a square image, a flip: annotation tools and ``cv2.imread`` show images turned), and left out
    when it is the stored one; ``frame=None``: the displayed frame. A size that is neither raises
    ``ValueError`` (before decoding when the header tells); a file that cannot be read :class:`ImageReadError`.
    """
    with open_image(path) as image:
        raw = image.size
        _check_header(image, path, frame)
        load_pixels(image, path)
        orientation = _orientation(image)  # after decoding: a PNG's may follow its pixels
        as_is = image.mode == "RGB" and _as_is(image, path, orientation)
        displayed = _transposed(raw) if orientation in (5, 6, 7, 8) else raw
        if frame not in (None, displayed, raw):
            raise _size_error(path, displayed, frame)
        with _naming(path):
            if frame in (None, displayed) and orientation in range(2, 9):
                ImageOps.exif_transpose(image, in_place=True)
            rgb = image.convert("RGB")
    rgb.info.clear()  # pixels only: no orientation or profile travels on
    return DecodedImage(rgb, as_is)


def stored_as_is(image: ImageFile.ImageFile, path: str | Path) -> bool:
    """Whether the decoded ``image`` may be stored as its file's bytes: a PNG or JPEG without EXIF orientation
    (``datasets`` applies one when loading) and no larger than its pixels plus 1 MiB of headers (a larger
    file carries more than its image). Ask before reading its EXIF data otherwise (Pillow parses it once)."""
    return _as_is(image, path, _orientation(image))


def _as_is(image: ImageFile.ImageFile, path: str | Path, orientation: int | None) -> bool:
    width, height = image.size
    pixel_bytes = len(image.getbands()) * width * height
    return (
        image.format in ("JPEG", "PNG")
        and orientation in (None, 1)
        and Path(path).stat().st_size <= pixel_bytes + 2**20
    )


def open_rgb(path: str | Path) -> Image.Image:
    """The image at ``path`` as 8-bit RGB in its displayed frame; :class:`ImageReadError` when it cannot be read."""
    return decode_rgb(path).rgb


def read_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of the displayed image from its header alone (nothing is decoded; a PNG's EXIF
    orientation after its pixels is not seen); :class:`ImageReadError` when it cannot be read or is too large."""
    with open_image(path) as image:
        in_header = image.format != "TIFF" and "exif" in image.info  # Pillow turns a TIFF itself
        orientation = _orientation(image) if in_header else None
        return _transposed(image.size) if orientation in (5, 6, 7, 8) else image.size


@dataclass
class SourceObject:
    """One annotated object of a detection dataset, in its image's pixel frame.

    ``hbox`` is always set (``[x0, y0, x1, y1]``). Sources with oriented boxes also set
    ``polygon`` (the annotated 4 corners, or polygon) and ``rbox`` (``[cx, cy, w, h, angle_rad]``).
    ``category`` is the source's own class name.
    """

    category: str
    hbox: np.ndarray
    polygon: np.ndarray | None = None
    rbox: np.ndarray | None = None
    difficult: bool = False
    attributes: dict = field(default_factory=dict)  # source-specific extras (e.g. HRSC seg_color)


@dataclass
class SourceImage:
    """One image (or scene) of a detection dataset with its objects; ``width`` x ``height`` is the annotation's
    frame (:func:`decode_rgb`)."""

    image_id: str
    image_path: Path
    width: int
    height: int
    objects: list[SourceObject]
    source: str = ""
    split: str = ""

    def check_header(self) -> None:
        """Check from the file's header alone (nothing is decoded) what :meth:`read` checks first: an image within
        the pixel limit, of 8-bit samples, whose size turned or not is the annotation's; raises as :meth:`read`."""
        with open_image(self.image_path) as image:
            _check_header(image, self.image_path, (self.width, self.height))

    def decode(self) -> DecodedImage:
        """The image in the annotation's frame (:func:`decode_rgb`); raises naming the file."""
        return decode_rgb(self.image_path, (self.width, self.height))

    def read(self) -> Image.Image:
        """The image as RGB in the annotation's frame. A file that cannot be read raises :class:`ImageReadError`;
        a size other than the annotation's raises ``ValueError``, before decoding. Both name the file."""
        return self.decode().rgb
