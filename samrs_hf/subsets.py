"""The paper's recipe for each SAMRS subset: source reader, splits, tiling, prompt, classes.

=======  ====================  =====================  ================  ======  =======
subset   source                splits                 tiles             prompt  classes
=======  ====================  =====================  ================  ======  =======
sota     DOTA-v2.0 labelTxt    train, val             1024, stride 824  hbox    18
sior     DIOR horizontal XML   train, val, test       800x800 as is     hbox    20
fast     FAIR1M-2.0 XML        train, validation      600, stride 500   rhbox   37
=======  ====================  =====================  ================  ======  =======

* SOTA: 1024/824 (200-pixel overlap) is the DOTA devkit's and BboxToolkit's usual split; the
  overlap exceeds most DOTA objects, so an object cut by one tile is whole in the next.
* SIOR: DIOR images are 800x800 and kept whole. Prompts are DIOR's own horizontal boxes (the
  paper's H-Box prompt), so ``rbox`` is empty; the paper pre-trains on train+val only.
* FAST: FAIR1M-2.0 has only oriented boxes, hence ``rhbox`` (SAM takes no rotated box). The
  paper gives the 600x600 tile size but not the overlap; we take 100 pixels (stride 500), about
  1/6 of a tile as DOTA's 200/1024, and larger than FAIR1M's cars, ships and most aircraft.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from samrs_hf.classes import SAMRS_RELEASE_CLASSES
from samrs_hf.tiling import TilingSpec

__all__ = ["SubsetRecipe", "SUBSETS", "get_subset", "hf_split_name"]


@dataclass(frozen=True)
class SubsetRecipe:
    """How one subset is built: ``sources.get_source(source)(root, split, **source_kwargs)``."""

    name: str
    source: str
    splits: tuple[str, ...]
    tiling: TilingSpec
    prompt: str
    source_kwargs: dict = field(default_factory=dict)

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names in SAMRS release order (the ``category`` ClassLabel and semantic values)."""
        return SAMRS_RELEASE_CLASSES[self.name]


SUBSETS: dict[str, SubsetRecipe] = {
    "sota": SubsetRecipe("sota", "dota", ("train", "val"), TilingSpec(1024, 824), "hbox", {"version": "2.0"}),
    "sior": SubsetRecipe("sior", "dior", ("train", "val", "test"), TilingSpec(), "hbox", {"oriented": False}),
    "fast": SubsetRecipe("fast", "fair1m", ("train", "validation"), TilingSpec(600, 500), "rhbox"),
}

_HF_SPLITS = {"val": "validation", "all": "train"}


def get_subset(name: str) -> SubsetRecipe:
    """The recipe of ``name`` (``sota``, ``sior`` or ``fast``)."""
    try:
        return SUBSETS[name]
    except KeyError:
        raise ValueError(f"unknown subset {name!r}; choose from {', '.join(SUBSETS)}") from None


def hf_split_name(split: str) -> str:
    """Dataset split for a source split: ``val`` -> ``validation``; ``all`` (whole root) -> ``train``."""
    return _HF_SPLITS.get(split, split)
