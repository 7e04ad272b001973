"""The records that flow from the readers through tiling and labelling: objects and images.

Readers (:mod:`samrs_hf.sources`) produce them, :mod:`samrs_hf.labeling` consumes them; neither
stage owns them. Images are opened through :func:`open_image`, which lifts PIL's
decompression-bomb guard for that one read only: remote-sensing scenes are legitimately huge
(DOTA-v2.0 has scenes up to 20000x20000, 400 Mpx, above PIL's default 179 Mpx error threshold),
and the rest of the process keeps PIL's default. :func:`open_rgb`, :func:`read_size` and
:meth:`SourceImage.read` raise :class:`ImageReadError` naming the file for a missing, unidentified,
truncated or corrupt image (PIL's ``LOAD_TRUNCATED_IMAGES`` stays off: truncated data is never padded).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["ImageReadError", "SourceImage", "SourceObject", "open_image", "open_rgb", "read_size"]

_PIXEL_LIMIT = threading.Lock()
_PIL_ERRORS = (OSError, SyntaxError, ValueError, NotImplementedError, OverflowError)
"""What Pillow raises for a corrupt file (the exceptions its own fuzz tests accept)."""


class ImageReadError(OSError):
    """An image file that cannot be opened or decoded; the message names the file and PIL's reason."""


@contextmanager
def _naming(path: str | Path) -> Iterator[None]:
    try:
        yield
    except _PIL_ERRORS as error:
        raise ImageReadError(f"{path}: cannot read image: {error}") from None


@contextmanager
def open_image(path: str | Path) -> Iterator[Image.Image]:
    """``PIL.Image.open(path)`` for the block, whatever the image's size (decode it inside the block:
    PIL checks the size at open and again when it loads a TIFF)."""
    with _PIXEL_LIMIT:
        previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            with Image.open(path) as image:
                yield image
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def open_rgb(path: str | Path) -> Image.Image:
    """Decode the image at ``path`` as RGB, whatever its size; :class:`ImageReadError` when it cannot."""
    with _naming(path), open_image(path) as image:
        return image.convert("RGB")


def read_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` from the image header alone (nothing is decoded); :class:`ImageReadError`
    when the file is missing or no image PIL knows."""
    with _naming(path), open_image(path) as image:
        return image.size


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
    """One image (or scene) of a detection dataset with its objects."""

    image_id: str
    image_path: Path
    width: int
    height: int
    objects: list[SourceObject]
    source: str = ""
    split: str = ""

    def read(self) -> Image.Image:
        """The image as RGB. A file that cannot be read raises :class:`ImageReadError`; a header size other
        than the annotation's raises ``ValueError`` before anything is decoded. Both name the file."""
        with _naming(self.image_path), open_image(self.image_path) as image:
            size = image.size
            rgb = image.convert("RGB") if size == (self.width, self.height) else None
        if rgb is None:
            raise self._size_error(size)
        return rgb

    def check_header(self) -> None:
        """Check from the file's header alone (nothing is decoded) that it is an image of the annotation's
        size; raises as :meth:`read` would."""
        size = read_size(self.image_path)
        if size != (self.width, self.height):
            raise self._size_error(size)

    def _size_error(self, size: tuple[int, int]) -> ValueError:
        return ValueError(
            f"{self.image_path}: image is {size[0]}x{size[1]} but its annotation says {self.width}x{self.height}"
        )
