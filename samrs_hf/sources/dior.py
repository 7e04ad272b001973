"""DIOR (horizontal VOC XML) and DIOR-R (oriented XML) annotations.

Layout (as DIOR and DIOR-R ship)::

    root/JPEGImages-trainval/*.jpg, root/JPEGImages-test/*.jpg   (or root/JPEGImages/)
    root/Annotations/Horizontal Bounding Boxes/*.xml              (or root/Annotations/*.xml)
    root/Annotations/Oriented Bounding Boxes/*.xml
    root/ImageSets/Main/{train,val,test}.txt                      (needed only when split is given)

The two XMLs of one image list their objects in different orders and DIOR-R corners may lie
outside the image, so they are never matched object by object: ``oriented=True`` reads only
the oriented file (``polygon`` = the 4 ``robndbox`` corners, ``rbox`` = their minimum-area
rectangle, ``hbox`` = their bounds, the annotated ``angle`` kept in degrees in
``attributes["angle_deg"]``); ``oriented=False`` reads only the horizontal file (``hbox``).
Class names are matched case-insensitively onto :data:`~samrs_hf.classes.DIOR_CLASSES`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from samrs_hf.classes import DIOR_CLASSES
from samrs_hf.records import SourceImage, SourceObject
from samrs_hf.sources.base import (
    AnnotationError,
    DetectionSource,
    ErrorHandler,
    ParsedAnnotation,
    index_images,
    object_from_polygon,
    parse_xml,
    raise_error,
    read_split_ids,
    xml_number,
    xml_objects,
    xml_size,
    xml_text,
)

CORNERS = ("left_top", "right_top", "right_bottom", "left_bottom")
_CANONICAL = {name.lower(): name for name in DIOR_CLASSES}


def read_dior_xml(path: str | Path, oriented: bool = True, on_error: ErrorHandler = raise_error) -> ParsedAnnotation:
    """Parse one DIOR (``oriented=False``) or DIOR-R XML (size from ``<size>``); a bad object goes to ``on_error``."""
    path = Path(path)
    root = parse_xml(path)
    parse = lambda element, where: _parse_object(element, oriented, path, where)  # noqa: E731
    objects = xml_objects(root, "object", parse, on_error)
    return ParsedAnnotation(objects, xml_size(root, "size/width", "size/height"))


def _parse_object(element: ET.Element, oriented: bool, path: Path, where: str) -> SourceObject:
    name = xml_text(element, "name", path, where)
    category = _CANONICAL.get(name.lower())
    if category is None:
        raise AnnotationError(path, f"{where}: unknown class {name!r}", reason="unknown_class")
    difficult = element.findtext("difficult", "0").strip() == "1"
    if not oriented:
        box = _child(element, "bndbox", path, where)
        hbox = np.array([xml_number(box, tag, path, where) for tag in ("xmin", "ymin", "xmax", "ymax")])
        return SourceObject(category, hbox, difficult=difficult)
    box = _child(element, "robndbox", path, where)
    polygon = [[xml_number(box, f"{axis}_{corner}", path, where) for axis in "xy"] for corner in CORNERS]
    angle_deg = xml_number(element, "angle", path, where)
    return object_from_polygon(category, polygon, difficult, {"angle_deg": angle_deg})


def _child(element: ET.Element, tag: str, path: Path, where: str) -> ET.Element:
    child = element.find(tag)
    if child is None:
        raise AnnotationError(path, f"{where}: missing <{tag}>")
    return child


class DIOR(DetectionSource):
    """DIOR / DIOR-R images (800x800 JPEG) with horizontal or oriented boxes (module docstring).

    ``split`` is ``"train"``, ``"val"``, ``"test"`` or ``"trainval"`` (train + val), read from
    ``ImageSets/Main``; ``None`` or ``"all"`` takes every annotation file.
    """

    name = "dior"
    classes = DIOR_CLASSES

    @classmethod
    def gives_rotated_boxes(cls, oriented: bool = True, **options) -> bool:
        """DIOR-R's oriented files give rotated boxes; DIOR's horizontal ones none."""
        return oriented

    def __init__(self, root: str | Path, split: str | None = None, oriented: bool = True, skip_bad: bool = False):
        super().__init__(root, split, skip_bad)
        self.oriented = oriented
        self.annotation_dir = self._annotation_dir()
        self._images = index_images(*sorted(p for p in self.root.glob("JPEGImages*") if p.is_dir()))
        if self.split is None:
            self._ids = sorted(p.stem for p in self.annotation_dir.glob("*.xml"))
        else:
            self._ids = sorted(read_split_ids(self.root / "ImageSets" / "Main", self.split))

    def _annotation_dir(self) -> Path:
        annotations = self.root / "Annotations"
        if self.oriented:
            folder = annotations / "Oriented Bounding Boxes"
        else:
            folder = annotations / "Horizontal Bounding Boxes"
            folder = folder if folder.is_dir() else annotations
        if not folder.is_dir():
            raise FileNotFoundError(f"DIOR annotation folder {folder} not found")
        return folder

    def image_ids(self) -> list[str]:
        return self._ids

    def load(self, image_id: str) -> SourceImage:
        xml_path = self.annotation_dir / f"{image_id}.xml"
        image_path = self._images.get(image_id)
        parsed = read_dior_xml(xml_path, self.oriented, self._on_error) if image_path else ParsedAnnotation([])
        return self._source_image(image_id, image_path, f"{self.root}/JPEGImages*", xml_path, parsed)
