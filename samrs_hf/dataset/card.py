"""The dataset card (``README.md``) of a SAMRS folder: YAML ``configs:`` + ``dataset_info``, and prose.

The card is rendered from ``card_templates/samrs.md`` with each built subset's paragraph
(``card_templates/{subset}.md``), its build settings, and row and per-class instance counts read
back from its committed shards.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc
from datasets import DatasetInfo, Features, SplitDict, SplitInfo
from datasets.info import DatasetInfosDict  # datasets exports no other writer of a card's dataset_info
from filelock import UnixFileLock
from huggingface_hub import DatasetCard, DatasetCardData

from samrs_hf.checkpoints import public_name
from samrs_hf.dataset.atomic import write_atomic
from samrs_hf.dataset.shards import read_build_settings, read_shard, shard_files, shard_metadata, shard_split
from samrs_hf.dataset.subsets import CARD_TEMPLATES, RECIPES, SubsetRecipe

__all__ = ["SubsetCounts", "built_recipe", "count_subset", "write_card"]

CARD_LOCK = ".card.lock"
"""Held while the card is rewritten (builds of other subsets into the same folder wait for it)."""


@dataclass
class SubsetCounts:
    """Rows per split and instances per class of one built subset (read back from its shards)."""

    rows: Counter = field(default_factory=Counter)
    instances: Counter = field(default_factory=Counter)


def built_recipe(folder: Path, recipe: SubsetRecipe) -> SubsetRecipe:
    """``recipe`` with its classes; one whose classes come from its source (``coco``) takes them from the
    ``category`` ClassLabel of its first committed shard in ``folder``."""
    if recipe.classes:
        return recipe
    features = Features.from_arrow_schema(shard_metadata(shard_files(folder)[0]).schema.to_arrow_schema())
    return recipe.with_classes(features["objects"].feature["category"].names)


def count_subset(folder: Path, recipe: SubsetRecipe) -> SubsetCounts:
    """Count rows per split and instances per label class from the committed shards in ``folder``."""
    counts = SubsetCounts()
    for path in shard_files(folder):
        for batch in read_shard(path, ["objects"]):
            counts.rows[shard_split(path)] += batch.num_rows
            categories = pc.struct_field(pc.list_flatten(batch.column("objects")), "category")
            counts.instances.update(recipe.classes[i] for i in categories.to_pylist())
    return counts


def _config_entry(folder: Path, counts: SubsetCounts) -> dict:
    splits = sorted(counts.rows, key=lambda s: (s != "train", s != "validation", s))
    return {
        "config_name": folder.name,
        "data_files": [{"split": s, "path": f"{folder.name}/{s}-*.parquet"} for s in splits],
    }


def _dataset_info(folder: Path, recipe: SubsetRecipe, counts: SubsetCounts) -> DatasetInfo:
    """The card's ``dataset_info`` of one subset: features, rows per split, Parquet bytes.

    Besides documenting the schema, it keys ``datasets``' cache: for a local folder ``datasets`` 5
    hashes the card (its ``configs:`` patterns and ``dataset_info``), not the files, so without
    these sizes two folders of the same name, or one folder before and after a resumed build,
    would share one cached copy.
    """
    splits = SplitDict()
    for split, rows in sorted(counts.rows.items()):
        splits.add(SplitInfo(name=split, num_examples=rows))
    size = sum(path.stat().st_size for path in shard_files(folder))
    return DatasetInfo(features=recipe.features, splits=splits, download_size=size, config_name=recipe.name)


def _shown_settings(settings: dict) -> dict:
    """A subset's build settings as its card shows them: no local path (the card is uploaded), the model and
    the release folder by name, and the source splits read."""
    release_root = settings.get("release", {}).get("root")
    return {
        "settings": settings,
        "model": settings.get("model") and public_name(settings["model"]),
        "release_root": release_root and public_name(release_root),
        "splits_read": _splits_read(settings.get("splits") or []),
    }


def _splits_read(splits: list[str]) -> str:
    """What a build read, in a sentence: its source splits and/or a whole raw folder (``--split all``)."""
    named = [split for split in splits if split != "all"]
    sentences = [f"Built from the source splits {', '.join(named)}."] if named else []
    if "all" in splits:
        sentences.append(
            "Built from every image of a raw folder without splits (`--split all`), stored as the `train` split."
        )
    return " ".join(sentences)


def write_card(dataset_dir: Path) -> Path | None:
    """Write ``README.md`` for the finished subsets in ``dataset_dir`` from the packaged templates.

    ``configs:`` and ``dataset_info`` describe each subset with finished shards; entries of other
    configs already in the card are kept. Row and per-class instance counts are read from the
    shards. With nothing to describe, an existing card of ours is removed; returns the card's path,
    or ``None`` when there is none. The card is replaced in one step (a full disk leaves the previous
    one), and builds of several subsets into one folder rewrite it one at a time, each from the
    shards as they are then, so none loses another's entry.
    """
    dataset_dir = Path(dataset_dir)
    readme = dataset_dir / "README.md"
    with UnixFileLock(dataset_dir / CARD_LOCK, fallback_to_soft=False):
        card = _render_card(dataset_dir, readme)
        if card is None:
            readme.unlink(missing_ok=True)
            return None
        return write_atomic(readme, str(card))


def _render_card(dataset_dir: Path, readme: Path) -> DatasetCard | None:
    recipes = {
        name: built_recipe(dataset_dir / name, recipe)
        for name, recipe in RECIPES.items()
        if shard_files(dataset_dir / name)
    }
    built = {name: count_subset(dataset_dir / name, recipe) for name, recipe in recipes.items()}
    configs = [_config_entry(dataset_dir / name, counts) for name, counts in built.items()]
    infos = DatasetInfosDict({name: _dataset_info(dataset_dir / name, recipes[name], c) for name, c in built.items()})
    if readme.exists():
        previous = DatasetCard.load(readme).data
        configs += [c for c in previous.to_dict().get("configs") or [] if c.get("config_name") not in RECIPES]
        kept = DatasetInfosDict.from_dataset_card_data(previous)
        infos.update({name: info for name, info in kept.items() if name not in RECIPES})
    if not configs:
        return None
    card_data = DatasetCardData(
        license="other",
        task_categories=["image-segmentation", "object-detection"],
        tags=["remote-sensing", "segment-anything", "samrs"],
        pretty_name="SAMRS",
        configs=configs,
    )
    subsets = [
        {
            "name": name,
            "description": recipes[name].card_description,
            "rows": dict(counts.rows),
            "instances": sum(counts.instances.values()),
            "classes": [(c, counts.instances[c]) for c in recipes[name].classes],
            **_shown_settings(read_build_settings(dataset_dir / name) or {}),
        }
        for name, counts in built.items()
    ]
    infos.to_dataset_card_data(card_data)
    return DatasetCard.from_template(card_data, template_path=str(CARD_TEMPLATES / "samrs.md"), subsets=subsets)
