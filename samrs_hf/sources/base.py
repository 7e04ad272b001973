"""The records every source reader yields, and the reader interface they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np


class AnnotationError(ValueError):
    """A malformed or unsupported annotation; the message names the file (and line)."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path, self.line = Path(path), line


@dataclass
class SourceObject:
    """One annotated object of a detection dataset, in its image's pixel frame.

    ``hbox`` is always set (``[x0, y0, x1, y1]``). Sources with oriented boxes also set
    ``polygon`` (the annotated 4 corners, or polygon) and ``rbox`` (``[cx, cy, w, h, angle_rad]``).
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


@dataclass
class SkipReport:
    """What a reader dropped with ``skip_bad=True``: reason -> count, plus the messages."""

    counts: Counter = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)

    def add(self, reason: str, message: str) -> None:
        self.counts[reason] += 1
        self.messages.append(message)

    def __bool__(self) -> bool:
        return bool(self.counts)


class DetectionSource(ABC):
    """A raw detection dataset on disk: iterate it to get :class:`SourceImage` records.

    Subclasses set ``name`` and ``classes`` (the source's own class order) and implement
    :meth:`image_ids` and :meth:`load`.
    """

    name: str = ""
    classes: tuple[str, ...] = ()

    def __init__(self, root: str | Path, split: str | None = None, skip_bad: bool = False):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.name} root {self.root} is not a directory")
        self.split = split
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
        for image_id in self.image_ids():
            yield self.load(image_id)
