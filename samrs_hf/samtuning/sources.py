"""Images with true instance masks, the data SAM is tuned and scored on, behind one interface.

A :class:`MaskSource` is a sized, indexable collection of :class:`MaskedImage` (an image, its objects as a
detection reader gives them, and one boolean mask per object). :func:`open_mask_source` picks the source
from what ``SRC`` is:

=============================  ==========================================================================
``SRC``                        source
=============================  ==========================================================================
``synthetic[:STYLE]``          :class:`SyntheticMasks`: synthetic scenes drawn on the fly (``STYLE``: one of
                               ``synthetic.STYLES``, e.g. ``synthetic:dark``); training scenes come from
                               random streams no integer ``make_scene`` seed reaches, evaluation scenes are
                               seeds ``0, 1, ...`` (so ``samrs demo --seed N`` scores unseen scenes)
a ``.json`` file               :class:`CocoMasks`: a COCO instance file (polygons or RLE) and its images
an HRSC2016 folder             :class:`HrscMasks`: the objects with a ``seg_color`` in the segmentation PNGs
``potsdam:DIR``, ``isaid:DIR``  :class:`SegmentationMasks`: tiles of a semantic segmentation dataset (any layout
                               :mod:`~samrs_hf.training.finetune_datasets` reads), each connected region of a
                               thing class an object
``SRC,SRC...``                 :class:`ConcatMasks`: the images of each, one after the other (e.g. new data
                               with some of the old, against forgetting: ``synthetic:dark,synthetic``)
=============================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from samrs_hf import geometry
from samrs_hf.experiments.synthetic import STYLES, make_scene
from samrs_hf.records import SourceObject
from samrs_hf.training.finetune_datasets import DATASETS, find_scenes

__all__ = [
    "CocoMasks",
    "ConcatMasks",
    "HrscMasks",
    "MaskSource",
    "MaskedImage",
    "SegmentationMasks",
    "SyntheticMasks",
    "open_mask_source",
]

MIN_REGION_PIXELS = 16
"""Connected regions of a thing class smaller than this are left out (specks at label boundaries)."""

TRAINING_STREAM = 1
"""Spawn key of the synthetic training scenes: ``SeedSequence(i, spawn_key=(1,))`` is no integer seed's stream."""


@dataclass
class MaskedImage:
    """An image, its objects and each object's true mask (boolean ``(H, W)``)."""

    image_id: str
    image: Image.Image
    objects: list[SourceObject]
    masks: Sequence[np.ndarray]


class MaskSource(Protocol):
    """What the trainer reads: ``len(source)`` images, ``source[i]`` each; ``description`` for the model card."""

    description: str

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> MaskedImage: ...


class SyntheticMasks:
    """``count`` synthetic scenes (:func:`~samrs_hf.experiments.synthetic.make_scene`) of ``style``: evaluation
    scenes are seeds ``first, first + 1, ...``; training scenes (``training=True``) come from the separate streams
    ``SeedSequence(i, spawn_key=(TRAINING_STREAM,))``, so they never equal a scene of an integer seed."""

    def __init__(self, count: int, training: bool, first: int = 0, style: str = "default"):
        if style not in STYLES:
            raise ValueError(f"synthetic:{style}: unknown style; choose from {', '.join(STYLES)}")
        self.count, self.training, self.first, self.style = count, training, first, style
        kind = "training streams" if training else "seeds"
        self.description = f"{count} synthetic scenes, style {style} ({kind} {first}..{first + count - 1})"

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> MaskedImage:
        if not 0 <= index < self.count:
            raise IndexError(index)
        number = self.first + index
        if self.training:
            seed = np.random.SeedSequence(number, spawn_key=(TRAINING_STREAM,))
            scene = make_scene(seed, f"train_{number}", self.style)
        else:
            scene = make_scene(number, style=self.style)
        objects = [obj.to_source_object() for obj in scene.objects]
        return MaskedImage(scene.image_id, scene.image, objects, [obj.mask for obj in scene.objects])


class CocoMasks:
    """The images of a COCO instance file that have objects, each object's mask decoded from its polygons or RLE."""

    def __init__(self, annotations: str | Path, images: str | Path | None = None, skip_bad: bool = False):
        from samrs_hf.sources.coco import COCO

        self.reader = COCO(annotations, images=images, skip_bad=skip_bad)
        self.ids = [image_id for image_id in self.reader.image_ids() if self.reader.annotation_count(image_id)]
        self.description = f"COCO {self.reader.annotation_path} ({len(self.ids)} images with objects)"

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> MaskedImage:
        record = self.reader.load(self.ids[index])
        return MaskedImage(record.image_id, record.read(), record.objects, self.reader.masks(record))


class HrscMasks:
    """HRSC2016 images of ``split`` with a segmentation PNG; only objects with a ``seg_color`` are kept."""

    def __init__(self, root: str | Path, split: str | None = None):
        from samrs_hf.experiments.ablation import ablation_image_ids
        from samrs_hf.sources.hrsc2016 import HRSC2016

        self.source = HRSC2016(root)
        self.ids = ablation_image_ids(self.source, split) if split else self._with_masks()
        self.description = f"HRSC2016 {root} ({split or 'all'}: {len(self.ids)} images with masks)"

    def _with_masks(self) -> list[str]:
        return [i for i in self.source.image_ids() if self.source.segmentation_path(i).is_file()]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> MaskedImage:
        record = self.source.load(self.ids[index])
        kept = [(o, m) for o, m in zip(record.objects, self.source.gt_masks(record)) if m is not None]
        objects, masks = (list(t) for t in zip(*kept)) if kept else ([], [])
        return MaskedImage(record.image_id, record.read(), objects, masks)


class RegionMasks(Sequence[np.ndarray]):
    """The boolean masks of the labelled regions ``1..count`` of an integer region map, each made when asked for:
    the memory is one map however many regions it has."""

    def __init__(self, regions: np.ndarray, count: int):
        self.regions, self.count = regions, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.count))]
        if not -self.count <= index < self.count:
            raise IndexError(index)
        return self.regions == (index % self.count) + 1


def region_object(category: str, window: np.ndarray, rows: slice, cols: slice) -> SourceObject:
    """A region as a detection object, from its mask ``window`` over its bounding ``rows`` and ``cols`` (work in
    the region's size, not the tile's): its horizontal box (pixel edges) and minimum-area rotated box, from the
    first and last pixel of each of its rows (the hull's corners are among them)."""
    ys = np.flatnonzero(window.any(axis=1))
    first = window[ys].argmax(axis=1)
    last = window.shape[1] - 1 - window[ys, ::-1].argmax(axis=1)
    x = np.concatenate([first, first, last + 1, last + 1]) + cols.start
    y = np.concatenate([ys, ys + 1, ys, ys + 1]) + rows.start
    hbox = np.array([cols.start, rows.start, cols.stop, rows.stop], dtype=np.float64)
    return SourceObject(category, hbox, rbox=geometry.polygon_to_rbox(np.stack([x, y], axis=1).astype(np.float64)))


class SegmentationMasks:
    """Tiles of a semantic segmentation dataset whose objects are the connected regions (4-connected, at least
    :data:`MIN_REGION_PIXELS`) of its thing classes (``SegDatasetSpec.things``: Potsdam's buildings and cars,
    iSAID's 15 object classes). Touching objects of one class are one region; a label format that separates
    them (Potsdam's ``noBoundary`` labels) keeps them apart. Tiles without a region are left out."""

    def __init__(self, dataset: str, root: str | Path, split: str, tile_size: int = 1024):
        from samrs_hf.training.data import SceneTiles

        self.spec = DATASETS[dataset]
        self.tiles = SceneTiles(find_scenes(root, split, self.spec), self.spec, tile_size)
        self.root, self.split = root, split

    @cached_property
    def ids(self) -> list[int]:
        """Indices of the tiles with a region, found when first asked for (each tile's label is read)."""
        return [index for index in range(len(self.tiles)) if self._regions(self.tiles[index][1])[1]]

    @property
    def description(self) -> str:
        return f"{self.spec.name} {self.root} ({self.split}: {len(self.ids)} tiles with objects)"

    def __len__(self) -> int:
        return len(self.ids)

    def _regions(self, label: np.ndarray) -> tuple[np.ndarray, list[tuple[str, slice, slice]]]:
        """The tile's region map (0 = none, then 1, 2, ...) and each region's class name and bounding slices."""
        from scipy import ndimage

        regions, found = np.zeros(label.shape, dtype=np.int32), []
        for index in np.intersect1d(np.unique(label), self.spec.things):
            labelled, count = ndimage.label(label == index)
            kept = np.flatnonzero(np.bincount(labelled.ravel(), minlength=count + 1)[1:] >= MIN_REGION_PIXELS) + 1
            numbers = np.zeros(count + 1, dtype=np.int32)
            numbers[kept] = np.arange(len(found) + 1, len(found) + 1 + len(kept))
            regions = np.maximum(regions, numbers[labelled])  # classes do not overlap: 0 or one region a pixel
            boxes = ndimage.find_objects(labelled)
            found.extend((self.spec.classes[index], *boxes[number - 1]) for number in kept)
        return regions, found

    def __getitem__(self, index: int) -> MaskedImage:
        tile = self.ids[index]
        pixels, label = self.tiles[tile]
        regions, found = self._regions(label)
        masks = RegionMasks(regions, len(found))
        objects = [
            region_object(name, regions[rows, cols] == number, rows, cols)
            for number, (name, rows, cols) in enumerate(found, start=1)
        ]
        scene, (x0, y0, _, _) = self.tiles.tiles[tile]
        image_id = f"{self.tiles.scenes[scene].image.stem}__{x0}_{y0}"
        return MaskedImage(image_id, Image.fromarray(np.ascontiguousarray(pixels)), objects, masks)


class ConcatMasks:
    """The images of several sources, one source after the other."""

    def __init__(self, sources: list[MaskSource]):
        self.sources = sources
        self.description = " + ".join(source.description for source in sources)

    def __len__(self) -> int:
        return sum(len(source) for source in self.sources)

    def __getitem__(self, index: int) -> MaskedImage:
        for source in self.sources:
            if index < len(source):
                return source[index]
            index -= len(source)
        raise IndexError(index)


def open_mask_source(
    spec: str, flag: str, training: bool, images: str | None = None, split: str | None = None, count: int = 64
) -> MaskSource:
    """The :class:`MaskSource` that ``spec`` names (see the module docstring); errors name ``flag``.

    ``images``: the image folder of a COCO file (default: the file's folder); ``split``: HRSC2016's
    ``ImageSets`` list (default: all to train, ``test`` to evaluate) or a segmentation dataset's split
    (default: ``train`` to train, ``val`` to evaluate); ``count``: synthetic scenes.
    """
    if "," in spec:
        return ConcatMasks([open_mask_source(part, flag, training, images, split, count) for part in spec.split(",")])
    if spec == "synthetic" or spec.startswith("synthetic:"):
        return SyntheticMasks(count, training, style=spec.partition(":")[2] or "default")
    dataset, _, folder = spec.partition(":")
    if dataset in DATASETS and folder:
        if not Path(folder).is_dir():
            raise FileNotFoundError(f"{flag} {spec}: no such folder (the {dataset} dataset)")
        try:
            return SegmentationMasks(dataset, folder, split or ("train" if training else "val"))
        except (FileNotFoundError, ValueError) as error:  # no layout, no images, an unknown split: name the flag
            raise type(error)(f"{flag} {spec}: {error}") from None
    path = Path(spec)
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise FileNotFoundError(f"{flag} {spec}: no such COCO file")
        return CocoMasks(path, images)
    if path.is_dir() and any((path / d / "Annotations").is_dir() for d in ("", "FullDataSet")):
        return HrscMasks(path, split or (None if training else "test"))
    raise ValueError(
        f"{flag} {spec}: not a source of true masks; give 'synthetic[:STYLE]', a COCO instance .json, an HRSC2016 "
        f"folder (with Annotations/ and Segmentations/), or {' / '.join(f'{name}:DIR' for name in DATASETS)}"
    )


def objects_with_masks(image: MaskedImage) -> Sequence[int]:
    """Indices of the objects whose mask has pixels (what the trainer prompts)."""
    return [i for i, mask in enumerate(image.masks) if mask.any()]
