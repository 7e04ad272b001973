"""FAIR1M 1.0 / 2.0 XML annotations.

Layouts: ``root/{train,validation}/`` each holding ``images/`` + ``labelXml/`` (or several
``part*/images`` + ``part*/labelXml``, as FAIR1M 1.0's train set ships), or a single
``root/images`` + ``root/labelXml``. ``split`` picks ``"train"``, ``"validation"`` (alias
``"val"``) or ``"trainval"`` (both); ``None`` or ``"all"`` takes the flat layout when there is
one, else every split present. Train and validation reuse file names, so when both are merged
the image ids get SAMRS's ``train_`` / ``valid_`` prefixes.

Each ``<object>`` has ``<possibleresult><name>`` (one of the 37
:data:`~samrs_hf.classes.FAIR1M_CLASSES`, exact strings) and ``<points>``, a closed ring of
"x,y" floats whose repeated last point is dropped. Image sizes come from ``<size>`` (else from
the image header). Objects reaching past the image edge are kept as annotated (tiling clips
them); degenerate ones (zero area) and ones wholly outside the image are dropped and counted in
``report``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from samrs_hf.classes import FAIR1M_CLASSES
from samrs_hf.geometry import as_polygon
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
    parse_xml,
    raise_error,
    xml_objects,
    xml_size,
    xml_text,
)

SPLIT_FOLDERS = {"train": "train", "validation": "validation", "val": "validation"}
ID_PREFIXES = {"train": "train_", "validation": "valid_"}
_CLASSES = frozenset(FAIR1M_CLASSES)


def read_fair1m_xml(path: str | Path, on_error: ErrorHandler = raise_error) -> ParsedAnnotation:
    """Parse one FAIR1M XML (size from ``<size>``); a bad object goes to ``on_error`` (default: raise)."""
    path = Path(path)
    root = parse_xml(path)
    objects = xml_objects(root, "object", lambda element, where: _parse_object(element, path, where), on_error)
    return ParsedAnnotation(objects, xml_size(root, "size/width", "size/height"))


def _parse_object(element: ET.Element, path: Path, where: str) -> SourceObject:
    name = xml_text(element, "possibleresult/name", path, where)
    if name not in _CLASSES:
        raise AnnotationError(path, f"{where}: unknown class {name!r}", reason="unknown_class")
    points = [_point(point.text or "", path, where) for point in element.iterfind("points/point")]
    polygon = as_polygon(points)
    if len(polygon) < 3:
        raise AnnotationError(path, f"{where}: <points> needs at least 3 points besides the closing one")
    return object_from_polygon(name, polygon)


def _point(text: str, path: Path, where: str) -> tuple[float, float]:
    try:
        x, y = (bounded_float(v) for v in text.split(","))
    except ValueError:
        raise AnnotationError(
            path, f"{where}: <point> is {text.strip()!r}, not 'x,y' with finite numbers within ±{COORDINATE_LIMIT:.0f}"
        ) from None
    return x, y


class FAIR1M(DetectionSource):
    """FAIR1M scenes (TIF images, ``labelXml`` annotations); see the module docstring for layouts."""

    name = "fair1m"
    classes = FAIR1M_CLASSES

    def __init__(self, root: str | Path, split: str | None = None, skip_bad: bool = False):
        super().__init__(root, split, skip_bad)
        self._entries: dict[str, tuple[str, Path, Path | None]] = {}  # id -> (split, xml, image)
        folders = self._split_folders()
        for split_name, folder in folders:
            prefix = ID_PREFIXES[split_name] if len(folders) > 1 else ""
            self._index(folder, split_name, prefix)

    def _split_folders(self) -> list[tuple[str, Path]]:
        if self.split is None and (self.root / "labelXml").is_dir():
            return [("", self.root)]
        if self.split is None:
            names = [name for name in ("train", "validation") if (self.root / name).is_dir()]
        elif self.split == "trainval":
            names = ["train", "validation"]
        elif self.split in SPLIT_FOLDERS:
            names = [SPLIT_FOLDERS[self.split]]
        else:
            raise ValueError(f"unknown FAIR1M split {self.split!r}; choose train, validation, trainval or all")
        if not names:
            raise FileNotFoundError(f"no FAIR1M labelXml/, train/ or validation/ folder in {self.root}")
        return [(name, self.root / name) for name in names]

    def _index(self, folder: Path, split_name: str, prefix: str) -> None:
        label_dirs = [d for d in [folder / "labelXml", *sorted(folder.glob("part*/labelXml"))] if d.is_dir()]
        if not label_dirs:
            hint = "" if self.split is None else "; split='all' (--split all) reads a flat root/labelXml + root/images"
            raise FileNotFoundError(f"no FAIR1M labelXml folder in {folder}{hint}")
        for label_dir in label_dirs:
            images = index_images(label_dir.parent / "images")
            for xml_path in sorted(label_dir.glob("*.xml")):
                image_id = prefix + xml_path.stem
                if image_id in self._entries:
                    raise ValueError(f"FAIR1M image id {image_id!r} appears twice: {xml_path}")
                self._entries[image_id] = (split_name, xml_path, images.get(xml_path.stem))

    def image_ids(self) -> list[str]:
        return sorted(self._entries)

    def load(self, image_id: str) -> SourceImage:
        split_name, xml_path, image_path = self._entries[image_id]
        parsed = read_fair1m_xml(xml_path, self._on_error) if image_path else ParsedAnnotation([])
        return self._source_image(image_id, image_path, xml_path.parent.parent / "images", xml_path, parsed, split_name)
