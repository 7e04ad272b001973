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
* Class names: the semantic-map values follow the SAMRS release order
  (:data:`~samrs_hf.classes.SAMRS_RELEASE_CLASSES`); each recipe's ``release_name`` maps a
  source name onto it (DIOR lower-cased, FAIR1M spaces to ``-``).
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

from samrs_hf.classes import SAMRS_RELEASE_CLASSES
from samrs_hf.labeling.tiling import TilingSpec

if TYPE_CHECKING:
    from datasets import Features

__all__ = ["RECIPES", "SUBSETS", "SubsetRecipe", "get_subset", "hf_split_name"]

CARD_TEMPLATES = Path(__file__).parent / "card_templates"


def _same(name: str) -> str:
    return name


def _lower(name: str) -> str:
    return name.lower()


def _dashed(name: str) -> str:
    return name.replace(" ", "-")


@dataclass(frozen=True)
class SubsetRecipe:
    """How one subset is built: ``sources.get_source(source)(root, split, **source_kwargs)``, tiled with
    ``tiling`` and prompted with ``prompt``; labels in ``classes`` order, reached by ``release_name``."""

    name: str
    source: str
    splits: tuple[str, ...]
    tiling: TilingSpec
    prompt: str
    classes: tuple[str, ...]
    release_name: Callable[[str], str]
    sep_images: int
    source_kwargs: dict = field(default_factory=dict)

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


SUBSETS: dict[str, SubsetRecipe] = {
    recipe.name: recipe
    for recipe in (
        SubsetRecipe(
            "sota",
            "dota",
            ("train", "val"),
            TilingSpec(1024, 824),
            "hbox",
            SAMRS_RELEASE_CLASSES["sota"],
            _same,
            sep_images=17_480,
            source_kwargs={"version": "2.0"},
        ),
        SubsetRecipe(
            "sior",
            "dior",
            ("train", "val", "test"),
            TilingSpec(),
            "hbox",
            SAMRS_RELEASE_CLASSES["sior"],
            _lower,
            sep_images=11_725,
            source_kwargs={"oriented": False},
        ),
        SubsetRecipe(
            "fast",
            "fair1m",
            ("train", "validation"),
            TilingSpec(600, 500),
            "rhbox",
            SAMRS_RELEASE_CLASSES["fast"],
            _dashed,
            sep_images=64_147,
        ),
    )
}

"""The paper's subsets (what SEP pre-trains on)."""

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
