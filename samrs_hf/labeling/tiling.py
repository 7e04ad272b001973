"""Cut large scenes into overlapping tiles and clip their objects to each tile.

Rules (the same for every subset, parameters in :mod:`samrs_hf.dataset.subsets`):

* **Windows** start every ``stride`` pixels; the last window of a row or column is moved back
  so that it ends flush with the scene's far edge, so every pixel lies in at least one tile.
  A scene no larger than a tile along an axis gives one window there with the scene's real
  size: tiles are never padded (SAMRS stores real pixels only).
* **Objects cut by a tile edge** are clipped to the tile (Sutherland-Hodgman on the polygon, or
  on the box's corners) and kept when at least ``min_visible`` of their in-scene area lies in
  the tile. The default 0.7 is the IoF threshold of the DOTA devkit and BboxToolkit splitters,
  so our tiles keep the same objects as the usual DOTA split; an object that fails it is,
  with a tile overlap larger than the object, whole in a neighbouring tile. The kept object's
  ``hbox`` is recomputed from the clipped polygon, and so is its ``rbox`` when it has one.
* **Tile ids** follow BboxToolkit / mmrotate: ``{scene}__{size}__{x0}___{y0}``, e.g.
  ``P0001__1024__824___0`` is the 1024-pixel tile of scene P0001 whose origin is (824, 0).
  (The original DOTA devkit writes the resize rate, ``__1__``, in the size slot.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from samrs_hf.geometry import clip_polygon, polygon_area, polygon_to_hbox, polygon_to_rbox, sliding_windows
from samrs_hf.records import SourceImage, SourceObject

__all__ = ["Tile", "TilingSpec", "clip_object", "tile_id", "tile_scene", "tile_windows"]

MIN_VISIBLE = 0.7


@dataclass(frozen=True)
class TilingSpec:
    """Tile ``size`` and ``stride`` in pixels; ``size=None`` keeps each image whole."""

    size: int | None = None
    stride: int | None = None
    min_visible: float = MIN_VISIBLE

    def __post_init__(self) -> None:
        if self.size is not None and not 0 < (self.stride or 0) <= self.size:
            raise ValueError(f"tile stride must be in (0, size]; got size={self.size}, stride={self.stride}")


@dataclass
class Tile:
    """One window of a scene with its objects in the tile's own pixel frame."""

    image_id: str
    scene: SourceImage
    x0: int
    y0: int
    width: int
    height: int
    objects: list[SourceObject]

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The window ``(x0, y0, x1, y1)`` in scene pixels."""
        return self.x0, self.y0, self.x0 + self.width, self.y0 + self.height


def tile_windows(width: int, height: int, spec: TilingSpec) -> list[tuple[int, int, int, int]]:
    """Windows ``(x0, y0, x1, y1)`` covering a ``width`` x ``height`` scene, row by row."""
    if spec.size is None:
        return [(0, 0, width, height)]
    return sliding_windows(width, height, spec.size, spec.stride)


def tile_id(scene_id: str, size: int, x0: int, y0: int) -> str:
    """``{scene}__{size}__{x0}___{y0}`` (BboxToolkit's naming)."""
    return f"{scene_id}__{size}__{x0}___{y0}"


def _outline(obj: SourceObject) -> np.ndarray:
    if obj.polygon is not None:
        return np.asarray(obj.polygon, dtype=np.float64)
    x0, y0, x1, y1 = np.asarray(obj.hbox, dtype=np.float64)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def clip_object(
    obj: SourceObject, window: tuple[int, int, int, int], scene_size: tuple[int, int], min_visible: float
) -> SourceObject | str:
    """Clip ``obj`` to ``window`` and shift it into the window's frame.

    Returns the clipped object, or the reason it is dropped: ``"outside_tile"`` (nothing
    inside), ``"cut_by_tile_edge"`` (less than ``min_visible`` of its area inside) or
    ``"degenerate"`` (no area inside the scene).
    """
    x0, y0, x1, y1 = window
    outline = _outline(obj)
    in_scene = polygon_area(clip_polygon(outline, 0, 0, scene_size[0], scene_size[1]))
    clipped = clip_polygon(outline, x0, y0, x1, y1)
    inside = polygon_area(clipped)
    if in_scene <= 0:
        return "degenerate"
    if inside <= 0:
        return "outside_tile"
    if inside < min_visible * in_scene:
        return "cut_by_tile_edge"
    offset = np.array([x0, y0], dtype=np.float64)
    whole = bool(np.all(outline.min(axis=0) >= (x0, y0)) and np.all(outline.max(axis=0) <= (x1, y1)))
    polygon = (outline if whole else clipped) - offset
    if obj.rbox is None:
        rbox = None
    elif whole:
        rbox = np.asarray(obj.rbox, dtype=np.float64) - np.array([x0, y0, 0, 0, 0])
    else:
        rbox = polygon_to_rbox(polygon)
    return replace(obj, hbox=polygon_to_hbox(polygon), polygon=None if obj.polygon is None else polygon, rbox=rbox)


def tile_scene(scene: SourceImage, spec: TilingSpec, dropped: Counter | None = None) -> list[Tile]:
    """Cut ``scene`` into tiles with clipped objects.

    Objects that end up in no tile are counted in ``dropped`` by reason (``degenerate`` or
    ``cut_by_tile_edge``). Whole images (``spec.size is None``) keep their own id.
    """
    tiles, kept, reasons = [], set(), {}
    for x0, y0, x1, y1 in tile_windows(scene.width, scene.height, spec):
        objects = []
        for index, obj in enumerate(scene.objects):
            clipped = clip_object(obj, (x0, y0, x1, y1), (scene.width, scene.height), spec.min_visible)
            if isinstance(clipped, str):
                if clipped != "outside_tile":
                    reasons[index] = clipped
                continue
            kept.add(index)
            objects.append(clipped)
        name = scene.image_id if spec.size is None else tile_id(scene.image_id, spec.size, x0, y0)
        tiles.append(Tile(name, scene, x0, y0, x1 - x0, y1 - y0, objects))
    if dropped is not None:
        dropped.update(reason for index, reason in reasons.items() if index not in kept)
    return tiles
