"""The paper's recipe for each SAMRS subset: source reader, splits, tiling, prompt, classes, card.

=======  ====================  =====================  ================  ======  =======  ===========
subset   source                splits                 tiles             prompt  classes  SEP images
=======  ====================  =====================  ================  ======  =======  ===========
sota     DOTA-v2.0 labelTxt    train, val             1024, stride 824  hbox    18       17,480
sior     DIOR horizontal XML   train, val, test       800x800 as is     hbox    20       11,725
fast     FAIR1M-2.0 XML        train, validation      600, stride 500   rhbox   37       64,147
coco     a COCO instance file  train (``--split``)    1024, stride 824  hbox    its own  –
=======  ====================  =====================  ================  ======  =======  ===========

* SOTA: 1024/824 (200-pixel overlap) is the DOTA devkit's and BboxToolkit's usual split; the
  overlap exceeds most DOTA objects, so an object cut by one tile is whole in the next.
* SIOR: DIOR images are 800x800 and kept whole. Prompts are DIOR's own horizontal boxes (the
  paper's H-Box prompt), so ``rbox`` is empty; the paper pre-trains on train+val only.
* FAST: FAIR1M-2.0 has only oriented boxes, hence ``rhbox`` (SAM takes no rotated box). The
  paper gives the 600x600 tile size but not the overlap; we take 100 pixels (stride 500), about
  1/6 of a tile as DOTA's 200/1024, and larger than FAIR1M's cars, ships and most aircraft.
* Class names: the semantic-map values follow the SAMRS release order, the published data's
  (ViTAE-Transformer/SAMRS @868c99a, "Generate Dataset/mapping.py": SOTA in BboxToolkit's DOTA-v2.0
  order, SIOR and FAST alphabetical), which each recipe holds; its ``release_name`` maps a source
  name onto it (DIOR lower-cased, FAIR1M spaces to ``-``).
* Release format: where the authors' release keeps each subset's images, label folder and pkl boxes
  (:class:`ReleaseFormat`, read and written by :mod:`samrs_hf.dataset.release`).
* A new subset is a recipe here and its card template, ``card_templates/{name}.md``: every list of
  subsets (CLI choices, training's default configs, the release's formats) comes from :data:`SUBSETS`.
* coco: your own detection set as a COCO instance file (``--root FILE.json``), built like SOTA; its
  classes are the file's categories (in ``id`` order), read from the file at build time and from
  the shards' schema after (:func:`samrs_hf.dataset.card.built_recipe`). It is not a SEP subset.
* SEP images: the subset sizes ``L_i`` of the official pre-training script (``main_pretrain.py``),
  which set the per-subset batch shares; SIOR counts DIOR trainval only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from samrs_hf.labeling.tiling import TilingSpec

if TYPE_CHECKING:
    from datasets import Features

__all__ = [
    "RECIPES",
    "SAMRS_RELEASE_CLASSES",
    "SUBSETS",
    "ReleaseFormat",
    "SubsetRecipe",
    "get_subset",
    "hf_split_name",
]

CARD_TEMPLATES = Path(__file__).parent / "card_templates"


def _same(name: str) -> str:
    return name


def _lower(name: str) -> str:
    return name.lower()


def _dashed(name: str) -> str:
    return name.replace(" ", "-")


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True)
class ReleaseFormat:
    """How the authors' release stores a subset: image folder and suffix, label folder (``segs``), the pkl key
    of the prompt box (``box_key``) and its numpy dtype, and whether instances carry an ``rbox``."""

    images: str
    suffix: str
    segs: str
    box_key: str
    box_dtype: str
    rotated: bool


@dataclass(frozen=True)
class SubsetRecipe:
    """How one subset is built: ``sources.get_source(source)(root, split, **source_kwargs)``, tiled with
    ``tiling`` and prompted with ``prompt``; labels in ``classes`` order, reached by ``release_name``;
    ``release``: how the authors' release stores it (``None``: not released)."""

    name: str
    source: str
    splits: tuple[str, ...]
    tiling: TilingSpec
    prompt: str
    classes: tuple[str, ...]
    release_name: Callable[[str], str]
    sep_images: int
    source_kwargs: dict = field(default_factory=dict)
    release: ReleaseFormat | None = None

    def with_classes(self, classes: tuple[str, ...]) -> SubsetRecipe:
        """This recipe with ``classes`` (a recipe whose classes come from its source has none of its own)."""
        return replace(self, classes=tuple(classes))

    @property
    def features(self) -> Features:
        """The subset's ``datasets`` schema (:func:`~samrs_hf.dataset.schema.samrs_features`)."""
        from samrs_hf.dataset.schema import samrs_features

        return samrs_features(self.classes)

    @property
    def card_description(self) -> str:
        """The subset's paragraph on the dataset card (``card_templates/{name}.md``)."""
        return (CARD_TEMPLATES / f"{self.name}.md").read_text(encoding="utf-8").strip()


# Release order of each subset (ViTAE-Transformer/SAMRS @868c99a, "Generate Dataset/mapping.py")
SOTA_CLASSES = _names(
    """
    large-vehicle swimming-pool helicopter bridge plane ship soccer-ball-field basketball-court
    ground-track-field small-vehicle baseball-diamond tennis-court roundabout storage-tank
    harbor container-crane airport helipad
    """
)

SIOR_CLASSES = _names(
    """
    airplane airport baseballfield basketballcourt bridge chimney expressway-service-area
    expressway-toll-station dam golffield groundtrackfield harbor overpass ship stadium
    storagetank tenniscourt trainstation vehicle windmill
    """
)

FAST_CLASSES = _names(
    """
    A220 A321 A330 A350 ARJ21 Baseball-Field Basketball-Court Boeing737 Boeing747 Boeing777
    Boeing787 Bridge Bus C919 Cargo-Truck Dry-Cargo-Ship Dump-Truck Engineering-Ship Excavator
    Fishing-Boat Football-Field Intersection Liquid-Cargo-Ship Motorboat other-airplane
    other-ship other-vehicle Passenger-Ship Roundabout Small-Car Tennis-Court Tractor Trailer
    Truck-Tractor Tugboat Van Warship
    """
)


SUBSETS: dict[str, SubsetRecipe] = {
    recipe.name: recipe
    for recipe in (
        SubsetRecipe(
            "sota",
            "dota",
            ("train", "val"),
            TilingSpec(1024, 824),
            "hbox",
            SOTA_CLASSES,
            _same,
            sep_images=17_480,
            source_kwargs={"version": "2.0"},
            release=ReleaseFormat("images", ".png", "hbox_segs", "bbox", "float64", rotated=False),
        ),
        SubsetRecipe(
            "sior",
            "dior",
            ("train", "val", "test"),
            TilingSpec(),
            "hbox",
            SIOR_CLASSES,
            _lower,
            sep_images=11_725,
            source_kwargs={"oriented": False},
            release=ReleaseFormat("JPEGImages-trainval", ".jpg", "hbox_segs", "bbox", "float32", rotated=False),
        ),
        SubsetRecipe(
            "fast",
            "fair1m",
            ("train", "validation"),
            TilingSpec(600, 500),
            "rhbox",
            FAST_CLASSES,
            _dashed,
            sep_images=64_147,
            release=ReleaseFormat("images", ".png", "rhbox_segs", "rhbox", "float64", rotated=True),
        ),
    )
}
"""The paper's subsets (what SEP pre-trains on and the authors released)."""

SAMRS_RELEASE_CLASSES: dict[str, tuple[str, ...]] = {name: recipe.classes for name, recipe in SUBSETS.items()}
"""Label index order of each released SAMRS subset; 255 marks pixels no mask covers."""

RECIPES: dict[str, SubsetRecipe] = {
    **SUBSETS,
    "coco": SubsetRecipe("coco", "coco", ("train",), TilingSpec(1024, 824), "hbox", (), _same, sep_images=0),
}
"""Every subset ``samrs build`` makes: the paper's and ``coco`` (a COCO instance file, with its own classes)."""

_HF_SPLITS = {"val": "validation", "all": "train"}


def get_subset(name: str) -> SubsetRecipe:
    """The recipe of ``name`` (``sota``, ``sior``, ``fast`` or ``coco``)."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown subset {name!r}; choose from {', '.join(RECIPES)}") from None


def hf_split_name(split: str) -> str:
    """Dataset split for a source split: ``val`` -> ``validation``; ``all`` (whole root) -> ``train``."""
    return _HF_SPLITS.get(split, split)
