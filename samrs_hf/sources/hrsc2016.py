"""HRSC2016 ``HRSC_Image`` XML annotations, and ground-truth ship masks for the prompt ablation.

Layout (the release's ``FullDataSet/`` level is optional)::

    root/[FullDataSet/]AllImages/<id>.bmp
    root/[FullDataSet/]Annotations/<id>.xml
    root/[FullDataSet/]Segmentations/<id>.png        (colour instance masks, some images only)
    root/ImageSets/{trainval,test,train,val}.txt     (needed only when split is given)

Per ``HRSC_Object``: ``hbox`` = ``box_xmin..box_ymax``; ``rbox`` = ``mbox_cx, mbox_cy, mbox_w,
mbox_h, mbox_ang`` with ``mbox_ang`` already in radians; ``polygon`` = the rbox corners;
``category`` from ``Class_ID`` (``1000000`` + two digits) through :data:`HRSC2016_CLASS_IDS`;
``attributes["seg_color"]`` = the ``(r, g, b)`` of the object in its segmentation PNG, or None
when the colour is empty or malformed (no ground truth).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from samrs_hf.geometry import rbox_to_polygon
from samrs_hf.records import SourceImage, SourceObject, open_rgb
from samrs_hf.sources.base import (
    AnnotationError,
    DetectionSource,
    ErrorHandler,
    ParsedAnnotation,
    index_images,
    parse_xml,
    raise_error,
    read_split_ids,
    xml_number,
    xml_objects,
    xml_size,
    xml_text,
)

HRSC2016_CLASS_IDS: dict[str, str] = {
    "01": "ship",
    "02": "aircraft carrier",
    "03": "warcraft",
    "04": "merchant ship",
    "05": "Nimitz",
    "06": "Enterprise",
    "07": "Arleigh Burke",
    "08": "WhidbeyIsland",
    "09": "Perry",
    "10": "Sanantonio",
    "11": "Ticonderoga",
    "12": "Kitty Hawk",
    "13": "Kuznetsov",
    "14": "Abukuma",
    "15": "Austen",
    "16": "Tarawa",
    "17": "Blue Ridge",
    "18": "Container",
    "19": "OXo|--)",
    "20": "Car carrier([]==[])",
    "22": "Hovercraft",
    "24": "yacht",
    "25": "CntShip(_|.--.--|_]=",
    "26": "Cruise",
    "27": "submarine",
    "28": "lute",
    "29": "Medical",
    "30": "Car carrier(======|",
    "31": "Ford-class",
    "32": "Midway-class",
    "33": "Invincible-class",
}
"""Two-digit class id -> name, as in mmrotate's HRSCDataset (``Class_ID`` = ``"1000000" + id``)."""

_CLASS_ID = re.compile(r"1000000(\d\d)")
_COLOR = re.compile(r"\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*")


def read_hrsc_xml(path: str | Path, on_error: ErrorHandler = raise_error) -> ParsedAnnotation:
    """Parse one ``HRSC_Image`` XML (size from ``Img_SizeWidth/Height``); a bad object goes to ``on_error``."""
    path = Path(path)
    root = parse_xml(path)
    objects = xml_objects(root, "HRSC_Object", lambda element, where: _parse_object(element, path, where), on_error)
    return ParsedAnnotation(objects, xml_size(root, "Img_SizeWidth", "Img_SizeHeight"))


def _parse_object(element: ET.Element, path: Path, where: str) -> SourceObject:
    class_id = xml_text(element, "Class_ID", path, where)
    match = _CLASS_ID.fullmatch(class_id)
    if match is None or match[1] not in HRSC2016_CLASS_IDS:
        raise AnnotationError(path, f"{where}: unknown Class_ID {class_id!r}", reason="unknown_class")
    hbox = np.array([xml_number(element, f"box_{k}", path, where) for k in ("xmin", "ymin", "xmax", "ymax")])
    rbox = np.array([xml_number(element, f"mbox_{k}", path, where) for k in ("cx", "cy", "w", "h", "ang")])
    if min(rbox[2], rbox[3]) < 0:
        raise AnnotationError(path, f"{where}: negative <mbox_w> or <mbox_h> ({rbox[2]:g} x {rbox[3]:g})")
    return SourceObject(
        category=HRSC2016_CLASS_IDS[match[1]],
        hbox=hbox,
        polygon=rbox_to_polygon(rbox),
        rbox=rbox,
        difficult=element.findtext("difficult", "0").strip() == "1",
        attributes={"seg_color": parse_seg_color(element.findtext("seg_color", ""))},
    )


def parse_seg_color(text: str) -> tuple[int, int, int] | None:
    """``"r,g,b"`` -> ``(r, g, b)``; empty or malformed text -> None (the object has no mask)."""
    match = _COLOR.fullmatch(text or "")
    if match is None:
        return None
    color = tuple(int(v) for v in match.groups())
    return color if max(color) <= 255 else None


class HRSC2016(DetectionSource):
    """HRSC2016 ship images (BMP) with H-Boxes, R-Boxes and, for some, colour instance masks.

    ``split`` names a list in ``root/ImageSets`` (``"trainval"``, ``"test"``, ...); ``None`` or
    ``"all"`` takes every annotation file.
    """

    name = "hrsc2016"
    classes = tuple(HRSC2016_CLASS_IDS.values())

    def __init__(self, root: str | Path, split: str | None = None, skip_bad: bool = False):
        super().__init__(root, split, skip_bad)
        full = self.root / "FullDataSet"
        self.data_dir = full if full.is_dir() else self.root
        self.annotation_dir = self.data_dir / "Annotations"
        if not self.annotation_dir.is_dir():
            raise FileNotFoundError(f"HRSC2016 annotation folder {self.annotation_dir} not found")
        self._images = index_images(self.data_dir / "AllImages")
        if self.split is None:
            self._ids = sorted(p.stem for p in self.annotation_dir.glob("*.xml"))
        else:
            self._ids = sorted(read_split_ids(self.root / "ImageSets", self.split))

    def image_ids(self) -> list[str]:
        return self._ids

    def load(self, image_id: str) -> SourceImage:
        xml_path = self.annotation_dir / f"{image_id}.xml"
        image_path = self._images.get(image_id)
        parsed = read_hrsc_xml(xml_path, self._on_error) if image_path else ParsedAnnotation([])
        return self._source_image(image_id, image_path, self.data_dir / "AllImages", xml_path, parsed)

    def segmentation_path(self, image_id: str) -> Path:
        """Where the image's colour segmentation PNG is (it may not exist)."""
        return self.data_dir / "Segmentations" / f"{image_id}.png"

    def gt_masks(self, image: SourceImage) -> list[np.ndarray | None]:
        """One boolean ``(H, W)`` mask per object (pixels of its ``seg_color``), None where it has none."""
        colors = [obj.attributes.get("seg_color") for obj in image.objects]
        path = self.segmentation_path(image.image_id)
        if not any(colors) or not path.is_file():
            return [None] * len(colors)
        pixels = np.asarray(open_rgb(path))
        if pixels.shape[:2] != (image.height, image.width):
            size = f"{pixels.shape[1]}x{pixels.shape[0]}"
            raise AnnotationError(path, f"segmentation is {size}, its image {image.width}x{image.height}")
        return [None if color is None else np.all(pixels == color, axis=-1) for color in colors]

    def ablation_ids(self) -> list[str]:
        """Test images with boxes and a segmentation PNG (the paper's 124-image ablation set).

        "Test" is ``ImageSets/test.txt`` when present, else this source's :meth:`image_ids`; an
        image qualifies when its PNG exists and one of its objects has a ``seg_color``.
        """
        test_list = self.root / "ImageSets" / "test.txt"
        candidates = read_split_ids(test_list.parent, "test") if test_list.is_file() else self.image_ids()
        return [image_id for image_id in sorted(candidates) if self._has_ground_truth(image_id)]

    def _has_ground_truth(self, image_id: str) -> bool:
        if not self.segmentation_path(image_id).is_file():
            return False
        try:
            root = parse_xml(self.annotation_dir / f"{image_id}.xml")
        except AnnotationError as error:
            self._on_error(error)
            return False
        return any(parse_seg_color(element.findtext("seg_color", "")) for element in root.iter("HRSC_Object"))
