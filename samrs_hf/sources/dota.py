"""DOTA v1.0 / v1.5 / v2.0 ``labelTxt`` annotations.

Layouts: ``root/{split}/images`` + ``root/{split}/labelTxt`` when ``split`` is given
(``"trainval"`` falls back to ``train`` + ``val`` when there is no ``trainval`` folder), and
``root/images`` + ``root/labelTxt`` when it is None or ``"all"``. One label file per image:

.. code-block:: text

    imagesource:GoogleEarth                          (optional header lines)
    gsd:0.146343590398
    x1 y1 x2 y2 x3 y3 x4 y4 category difficult        (integer or float coordinates)

CR, CRLF or LF endings, a UTF-8 BOM, empty (0-byte) files and a missing ``difficult`` column are
accepted; coordinates must be finite and within ``±COORDINATE_LIMIT``.
Self-intersecting quads are kept: their ``rbox`` is the minimum-area rectangle around them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from samrs_hf.classes import DOTA_V2_CLASSES
from samrs_hf.geometry import rbox_to_polygon
from samrs_hf.records import SourceImage, SourceObject
from samrs_hf.sources.base import (
    COORDINATE_LIMIT,
    AnnotationError,
    DetectionSource,
    ErrorHandler,
    ParsedAnnotation,
    bounded_float,
    index_images,
    object_from_polygon,
    raise_error,
)

DOTA_VERSIONS: dict[str, tuple[str, ...]] = {
    "1.0": DOTA_V2_CLASSES[:15],
    "1.5": DOTA_V2_CLASSES[:16],
    "2.0": DOTA_V2_CLASSES,
}
HEADER_KEYS = ("imagesource", "gsd")


def read_dota_labels(
    path: str | Path, classes: Iterable[str] = DOTA_V2_CLASSES, on_error: ErrorHandler = raise_error
) -> ParsedAnnotation:
    """Parse a DOTA ``labelTxt`` file; a bad line goes to ``on_error`` (default: raise)."""
    path, classes = Path(path), set(classes)
    labels = ParsedAnnotation(objects=[])
    for number, line in enumerate(_read_lines(path), 1):
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        if sep and key in HEADER_KEYS:
            labels.header[key] = value.strip()
            continue
        try:
            labels.objects.append(_parse_line(line, classes, path, number))
        except AnnotationError as error:
            on_error(error)
    return labels


def _read_lines(path: Path) -> list[str]:
    """The file's lines, split at CR, LF or CRLF only (the line numbers an editor shows)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AnnotationError(path, f"cannot read: {error}", reason="missing_annotation") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = len(_split_lines(data[: error.start].decode("utf-8-sig")))
        raise AnnotationError(path, f"not UTF-8 text: byte {data[error.start]:#04x} ({error.reason})", line) from None
    return _split_lines(text)


def _split_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _parse_line(line: str, classes: set[str], path: Path, number: int) -> SourceObject:
    fields = line.split()
    if len(fields) not in (9, 10):
        raise AnnotationError(path, f"expected 8 coordinates, a category and a difficult flag, got {line!r}", number)
    try:
        polygon = np.array([bounded_float(v) for v in fields[:8]]).reshape(4, 2)
    except ValueError as error:
        raise AnnotationError(
            path, f"coordinates must be finite numbers within ±{COORDINATE_LIMIT:.0f}, got {line!r} ({error})", number
        ) from None
    category = fields[8]
    if category not in classes:
        raise AnnotationError(path, f"unknown class {category!r}", number, reason="unknown_class")
    difficult = fields[9] if len(fields) == 10 else "0"
    if difficult not in ("0", "1"):
        raise AnnotationError(path, f"difficult flag must be 0 or 1, got {difficult!r}", number)
    return object_from_polygon(category, polygon, difficult=difficult == "1")


def write_dota_labels(path: str | Path, objects: Iterable[SourceObject], header: dict | None = None) -> Path:
    """Write objects as a DOTA ``labelTxt`` file (LF endings); returns the path.

    Each object is written as its 4-point polygon, else its ``rbox`` corners, else its ``hbox``.
    """
    path = Path(path)
    lines = [f"{key}:{value}" for key, value in (header or {}).items()]
    for obj in objects:
        coords = " ".join(_format_number(v) for v in _quad(obj).ravel())
        lines.append(f"{coords} {obj.category} {int(obj.difficult)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _quad(obj: SourceObject) -> np.ndarray:
    if obj.polygon is not None and len(obj.polygon) == 4:
        return np.asarray(obj.polygon, dtype=np.float64)
    if obj.rbox is not None:
        return rbox_to_polygon(obj.rbox)
    x0, y0, x1, y1 = np.asarray(obj.hbox, dtype=np.float64)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def _format_number(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


class DOTA(DetectionSource):
    """DOTA scenes: PNG/JPG/TIF/BMP images and ``labelTxt`` files (see the module docstring).

    ``version`` ("1.0", "1.5", "2.0") selects the class list; image sizes are read from the
    image headers when an image is loaded.
    """

    name = "dota"
    classes = DOTA_V2_CLASSES

    def __init__(self, root: str | Path, split: str | None = None, version: str = "2.0", skip_bad: bool = False):
        super().__init__(root, split, skip_bad)
        if version not in DOTA_VERSIONS:
            raise ValueError(f"unknown DOTA version {version!r}; choose from {sorted(DOTA_VERSIONS)}")
        self.version = version
        self.classes = DOTA_VERSIONS[version]
        self._labels: dict[str, Path] = {}
        self._images: dict[str, Path] = {}
        for folder in self._split_folders():
            if not (folder / "labelTxt").is_dir():
                raise FileNotFoundError(f"DOTA labels folder {folder / 'labelTxt'} not found; {self._layout_hint()}")
            for label_path in sorted((folder / "labelTxt").glob("*.txt")):
                if label_path.stem in self._labels:
                    raise ValueError(f"DOTA image id {label_path.stem!r} appears twice: {label_path}")
                self._labels[label_path.stem] = label_path
            self._images.update(index_images(folder / "images"))

    def _layout_hint(self) -> str:
        folders = f"split folders {self.root}/train, {self.root}/val (each with labelTxt/ and images/)"
        if self.split is None:
            return f"for {folders} name the split, e.g. split='train' (--split train)"
        flat = f"{self.root / 'labelTxt'} + {self.root / 'images'}"
        return f"pass split='all' (--split all) to read a flat {flat} layout, or give the {folders}"

    def _split_folders(self) -> list[Path]:
        if self.split is None:
            return [self.root]
        if self.split == "trainval" and not (self.root / "trainval").is_dir():
            return [self.root / "train", self.root / "val"]
        return [self.root / self.split]

    def image_ids(self) -> list[str]:
        return sorted(self._labels)

    def load(self, image_id: str) -> SourceImage:
        label_path = self._labels[image_id]
        image_path = self._images.get(image_id)
        parsed = read_dota_labels(label_path, self.classes, self._on_error) if image_path else ParsedAnnotation([])
        return self._source_image(image_id, image_path, label_path.parent.parent / "images", label_path, parsed)
