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
``SRC,SRC...``                 :class:`ConcatMasks`: the images of each, one after the other (e.g. new data
                               with some of the old, against forgetting: ``synthetic:dark,synthetic``)
=============================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from samrs_hf.experiments.synthetic import STYLES, make_scene
from samrs_hf.records import SourceObject

__all__ = [
    "CocoMasks",
    "ConcatMasks",
    "HrscMasks",
    "MaskSource",
    "MaskedImage",
    "SyntheticMasks",
    "open_mask_source",
]

TRAINING_STREAM = 1
"""Spawn key of the synthetic training scenes: ``SeedSequence(i, spawn_key=(1,))`` is no integer seed's stream."""


@dataclass
class MaskedImage:
    """An image, its objects and each object's true mask (boolean ``(H, W)``)."""

    image_id: str
    image: Image.Image
    objects: list[SourceObject]
    masks: list[np.ndarray]


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
    ``ImageSets`` list; ``count``: synthetic scenes.
    """
    if "," in spec:
        return ConcatMasks([open_mask_source(part, flag, training, images, split, count) for part in spec.split(",")])
    if spec == "synthetic" or spec.startswith("synthetic:"):
        return SyntheticMasks(count, training, style=spec.partition(":")[2] or "default")
    path = Path(spec)
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise FileNotFoundError(f"{flag} {spec}: no such COCO file")
        return CocoMasks(path, images)
    if path.is_dir() and any((path / d / "Annotations").is_dir() for d in ("", "FullDataSet")):
        return HrscMasks(path, split)
    raise ValueError(
        f"{flag} {spec}: not a source of true masks; give 'synthetic[:STYLE]', a COCO instance .json, or an HRSC2016 "
        "folder (with Annotations/ and Segmentations/)"
    )


def objects_with_masks(image: MaskedImage) -> Sequence[int]:
    """Indices of the objects whose mask has pixels (what the trainer prompts)."""
    return [i for i, mask in enumerate(image.masks) if mask.any()]
