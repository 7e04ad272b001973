"""The interface every source reader shares, its errors and skip report, and parsing helpers."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from samrs_hf.geometry import hbox_area, polygon_to_hbox, polygon_to_rbox
from samrs_hf.records import ImageReadError, SourceImage, SourceObject, read_size

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
COORDINATE_LIMIT = 1e6
"""Largest magnitude a reader accepts for a coordinate, size or angle: 50x the largest scenes
(DOTA-v2.0's 20000 px), and far below where areas of boxes would overflow a float."""


class AnnotationError(ValueError):
    """A malformed or unsupported annotation; the message names the file (and line).

    ``reason`` is the key under which ``skip_bad`` readers count it (``"malformed"``,
    ``"unknown_class"``, ``"missing_image"``, ``"missing_annotation"``, ``"unreadable_image"``).
    """

    def __init__(self, path: str | Path, message: str, line: int | None = None, reason: str = "malformed"):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path, self.line, self.reason = Path(path), line, reason


ErrorHandler = Callable[[AnnotationError], None]


def raise_error(error: AnnotationError) -> None:
    """The default error handler of the annotation parsers: fail on the first bad record."""
    raise error


@dataclass
class ParsedAnnotation:
    """One parsed annotation file: its objects, the image ``(width, height)`` it states (if any),
    and header fields (DOTA's ``imagesource`` / ``gsd``)."""

    objects: list[SourceObject]
    size: tuple[int, int] | None = None
    header: dict[str, str] = field(default_factory=dict)


DROPPED_OBJECTS = frozenset({"degenerate", "outside_image"})
"""Reasons under which readers drop objects whatever ``skip_bad`` says; the others are ``skip_bad`` skips."""


@dataclass
class SkipReport:
    """What a reader left out: reason -> count, and each ``(reason, message)`` in order."""

    counts: Counter = field(default_factory=Counter)
    entries: list[tuple[str, str]] = field(default_factory=list)

    def add(self, reason: str, message: str) -> None:
        self.counts[reason] += 1
        self.entries.append((reason, message))

    @property
    def messages(self) -> list[str]:
        return [message for _, message in self.entries]

    def __bool__(self) -> bool:
        return bool(self.counts)


class DetectionSource(ABC):
    """A raw detection dataset on disk: iterate it to get :class:`SourceImage` records.

    Subclasses set ``name`` and ``classes`` (the source's own class order) and implement
    :meth:`image_ids` and :meth:`load`. ``split`` None or ``"all"`` (``--split all`` on the command
    line) reads the whole root.
    """

    name: str = ""
    classes: tuple[str, ...] = ()
    root_is_file = False
    """Whether ``root`` is one annotation file (COCO) rather than a dataset folder."""

    @classmethod
    def gives_rotated_boxes(cls, **options) -> bool | None:
        """Whether a reader made with ``options`` gives every object a rotated box (``True``), none (``False``),
        or some (``None``); known before any file is read."""
        return True

    def __init__(self, root: str | Path, split: str | None = None, skip_bad: bool = False):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.name} root {self.root} is not a directory")
        self.split = None if split == "all" else split
        self.skip_bad = skip_bad
        self.report = SkipReport()

    @abstractmethod
    def image_ids(self) -> list[str]:
        """Ids of the images this source holds (sorted, stable)."""

    @abstractmethod
    def load(self, image_id: str) -> SourceImage:
        """Read one image's annotation (not its pixels)."""

    def __len__(self) -> int:
        return len(self.image_ids())

    def __iter__(self) -> Iterator[SourceImage]:
        """All images in :meth:`image_ids` order; with ``skip_bad`` bad files are skipped and reported."""
        for image_id in self.image_ids():
            try:
                image = self.load(image_id)
            except AnnotationError as error:
                if not self.skip_bad:
                    raise
                self.report.add(error.reason, str(error))
                continue
            yield image

    def _on_error(self, error: AnnotationError) -> None:
        """Per-object error handler: raise, or record the object as skipped when ``skip_bad``."""
        if not self.skip_bad:
            raise error
        self.report.add(error.reason, str(error))

    def _source_image(
        self,
        image_id: str,
        image_path: Path | None,
        image_dir: str | Path,
        annotation_path: Path,
        parsed: ParsedAnnotation,
        split: str | None = None,
    ) -> SourceImage:
        """Assemble a :class:`SourceImage`: check the image exists (it was looked for in
        ``image_dir``), take the annotation's size (else the image header's), drop invalid objects."""
        if image_path is None:
            raise AnnotationError(annotation_path, f"no image {image_id}.* in {image_dir}", reason="missing_image")
        width, height = parsed.size or image_size(image_path, annotation_path)
        return SourceImage(
            image_id=image_id,
            image_path=image_path,
            width=width,
            height=height,
            objects=self._keep_valid(parsed.objects, width, height, annotation_path),
            source=self.name,
            split=split if split is not None else self.split or "",
        )

    def _keep_valid(self, objects: list[SourceObject], width: int, height: int, path: Path) -> list[SourceObject]:
        """Drop (and count) degenerate objects and objects lying wholly outside the image.

        Objects partly outside are kept as annotated; tiling clips them.
        """
        kept = []
        for number, obj in enumerate(objects, 1):
            reason = _invalid_reason(obj, width, height)
            if reason is None:
                kept.append(obj)
            else:
                why = "has zero area" if reason == "degenerate" else f"lies wholly outside the {width}x{height} image"
                self.report.add(reason, f"{path}: object {number} ({obj.category}) {why}")
        return kept


def _invalid_reason(obj: SourceObject, width: int, height: int) -> str | None:
    x0, y0, x1, y1 = obj.hbox
    if hbox_area(obj.hbox) <= 0 or (obj.rbox is not None and min(obj.rbox[2], obj.rbox[3]) <= 0):
        return "degenerate"
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        return "outside_image"
    return None


def object_from_polygon(
    category: str, polygon, difficult: bool = False, attributes: dict | None = None
) -> SourceObject:
    """An oriented object: ``hbox`` = the polygon's bounds, ``rbox`` = its minimum-area rectangle."""
    polygon = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    return SourceObject(
        category=category,
        hbox=polygon_to_hbox(polygon),
        polygon=polygon,
        rbox=polygon_to_rbox(polygon),
        difficult=difficult,
        attributes=attributes or {},
    )


def index_images(*folders: Path) -> dict[str, Path]:
    """Image file stem -> path for the image files directly in ``folders`` (missing ones are skipped)."""
    return {
        path.stem: path
        for folder in folders
        if folder.is_dir()
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    }


def image_size(path: Path, annotation: Path) -> tuple[int, int]:
    """``(width, height)`` read from the image header only (no decoding); an unreadable image raises
    :class:`AnnotationError` naming the annotation and the image."""
    try:
        return read_size(path)
    except ImageReadError as error:
        raise AnnotationError(annotation, str(error), reason="unreadable_image") from None


def parse_xml(path: Path) -> ET.Element:
    """Root element of an XML annotation; unreadable XML raises :class:`AnnotationError`."""
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as error:
        raise AnnotationError(path, f"malformed XML: {error}", line=error.position[0]) from None
    except OSError as error:
        raise AnnotationError(path, f"cannot read: {error}", reason="missing_annotation") from None
    except (ValueError, LookupError) as error:  # what expat's unknown-encoding handler raises
        raise AnnotationError(path, f"unsupported encoding in the <?xml?> declaration: {error}") from None


def xml_objects(
    root: ET.Element, tag: str, parse: Callable[[ET.Element, str], SourceObject], on_error: ErrorHandler
) -> list[SourceObject]:
    """``parse(element, "TAG n")`` for every ``tag`` element; a bad one goes to ``on_error``."""
    objects = []
    for number, element in enumerate(root.iter(tag), 1):
        try:
            objects.append(parse(element, f"{tag} {number}"))
        except AnnotationError as error:
            on_error(error)
    return objects


def xml_size(root: ET.Element, width_tag: str, height_tag: str) -> tuple[int, int] | None:
    """``(width, height)`` stated in an XML annotation, or None (the reader then reads the image header)
    when absent, not integers, or not in ``1..COORDINATE_LIMIT``."""
    try:
        width, height = int(root.findtext(width_tag)), int(root.findtext(height_tag))
    except (TypeError, ValueError):
        return None
    return (width, height) if 0 < width <= COORDINATE_LIMIT and 0 < height <= COORDINATE_LIMIT else None


def xml_text(element: ET.Element, tag: str, path: Path, where: str) -> str:
    """Stripped text of ``element``'s child ``tag``; a missing or empty tag raises."""
    child = element.find(tag)
    if child is None or not (child.text or "").strip():
        raise AnnotationError(path, f"{where}: missing <{tag}>")
    return child.text.strip()


def xml_number(element: ET.Element, tag: str, path: Path, where: str) -> float:
    """``xml_text`` as a :func:`bounded_float`; anything else raises."""
    text = xml_text(element, tag, path, where)
    try:
        return bounded_float(text)
    except ValueError as error:
        raise AnnotationError(path, f"{where}: <{tag}> is {text!r}, {error}") from None


def bounded_float(text: str) -> float:
    """``float(text)`` when finite and within ``±COORDINATE_LIMIT``; else ``ValueError`` saying which."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError("not a number") from None
    if not math.isfinite(value):
        raise ValueError("not finite")
    if abs(value) > COORDINATE_LIMIT:
        raise ValueError(f"beyond ±{COORDINATE_LIMIT:.0f}")
    return value


def read_split_ids(list_dir: Path, split: str) -> list[str]:
    """Ids listed in ``list_dir/{split}.txt``; ``"trainval"`` falls back to ``train.txt`` + ``val.txt``."""
    names = [split]
    if split == "trainval" and not (list_dir / "trainval.txt").is_file():
        names = ["train", "val"]
    ids: list[str] = []
    for name in names:
        path = list_dir / f"{name}.txt"
        if not path.is_file():
            raise FileNotFoundError(
                f"split list {path} not found (split {split!r}); "
                "split='all' (--split all) reads every annotation without split lists"
            )
        ids += [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return ids
