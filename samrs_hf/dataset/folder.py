"""SAMRS dataset folders: what counts as one, so that ``--out`` never writes over someone else's files, and
the one way every command opens one for reading (:func:`load_subset`), where a damaged card or shard is
one error naming the file and the fix."""

from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from huggingface_hub import DatasetCard

from samrs_hf.dataset.shards import REDO_SHARD, shard_metadata, verify_shard
from samrs_hf.dataset.subsets import RECIPES, get_subset
from samrs_hf.errors import DamagedFileError, summary

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

__all__ = ["check_dataset_folder", "check_subset", "is_samrs_card", "load_subset", "read_card", "subset_splits"]

CARD = "README.md"
CARD_BYTES = 2**20
"""Largest card read (samrs writes a few KB per subset)."""
REWRITE_CARD = (
    "restore it, or delete it and rerun the `samrs build` or `samrs import-release` that wrote the folder "
    "(the shards are kept and the card written again)"
)


def read_card(readme: Path) -> dict:
    """The YAML metadata of the card ``readme`` (``{}`` when it has none); a card that cannot be read is a
    :class:`~samrs_hf.errors.DamagedFileError` naming it."""
    readme = Path(readme)
    try:
        if readme.stat().st_size > CARD_BYTES:
            raise ValueError(f"{readme.stat().st_size} bytes, more than a card holds")
        text = readme.read_text(encoding="utf-8")
        return DatasetCard(text).data.to_dict() if text.startswith("---") else {}  # no YAML: no metadata
    except yaml.MarkedYAMLError as error:  # the mark counts from the line after the opening ``---``
        problem = f"{error.problem} at line {error.problem_mark.line + 2}" if error.problem_mark else error.problem
        raise DamagedFileError(f"{readme}: broken YAML in the card ({problem}); {REWRITE_CARD}") from None
    except (ValueError, yaml.YAMLError) as error:
        raise DamagedFileError(f"{readme}: broken dataset card ({summary(error)}); {REWRITE_CARD}") from None


def is_samrs_card(readme: Path) -> bool:
    """Whether ``readme`` is a card ``samrs`` wrote (its YAML is tagged ``samrs``)."""
    try:
        tags = read_card(readme).get("tags")
    except OSError:
        return False
    return isinstance(tags, list) and "samrs" in tags


def check_dataset_folder(out: Path) -> None:
    """Refuse an ``--out`` that exists and holds anything but a SAMRS folder's own files
    (its card, subset folders, hidden files)."""
    out = Path(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file, not a folder; give a new or empty folder")
    foreign = sorted(p.name for p in out.iterdir() if not _belongs_to_samrs(p))
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise FileExistsError(
            f"--out {out} is not empty and is not a SAMRS dataset folder (it holds {shown}); "
            "nothing was changed: build into a new or empty folder"
        )


def _belongs_to_samrs(path: Path) -> bool:
    if path.name.startswith("."):
        return True
    if path.name == CARD:
        return is_samrs_card(path)
    return path.is_dir() and path.name in RECIPES


def _folder_card(folder: Path) -> dict:
    """The card metadata of the dataset folder ``folder`` (``{}`` without a card)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder; give a dataset folder written by `samrs build`")
    readme = folder / CARD
    return read_card(readme) if readme.is_file() else {}


def _card_splits(folder: Path, card: dict, config: str) -> dict[str, str]:
    """``split -> data file pattern`` of the finished ``config``, from the card of ``folder``."""
    try:
        entries = card.get("configs") or []
        configs = {c["config_name"]: {f["split"]: f["path"] for f in c["data_files"]} for c in entries}
    except (TypeError, KeyError) as error:
        raise DamagedFileError(f"{folder / CARD}: `configs:` unlike samrs's ({error!r}); {REWRITE_CARD}") from None
    if config not in configs:
        have = f"it has {', '.join(sorted(map(str, configs)))}" if configs else "it has none"
        raise FileNotFoundError(
            f"{folder} holds no finished {config} subset ({have}); "
            f"build it with `samrs build {config} --root RAW --out {folder}`"
        )
    return configs[config]


def _card_rows(folder: Path, card: dict, config: str) -> dict[str, int]:
    """``split -> rows`` that the card of ``folder`` records for ``config`` (read as ``datasets`` reads it)."""
    from datasets.info import DatasetInfosDict  # how datasets itself reads the card (not exported elsewhere)

    try:
        info = DatasetInfosDict.from_dataset_card_data(card).get(config)
        return {name: split.num_examples for name, split in (info.splits or {}).items()} if info else {}
    except (TypeError, KeyError, ValueError, AttributeError) as error:
        raise DamagedFileError(f"{folder / CARD}: unreadable `dataset_info` ({error!r}); {REWRITE_CARD}") from None


def subset_splits(dataset: str | Path, config: str) -> list[str]:
    """The splits of ``config`` in a SAMRS folder (from its card) or Hub dataset."""
    if Path(dataset).is_dir():
        return list(_card_splits(Path(dataset), _folder_card(Path(dataset)), config))
    from datasets import get_dataset_split_names

    return get_dataset_split_names(str(dataset), config)


def check_subset(folder: Path, config: str, split: str | None = None) -> dict[str, list[Path]]:
    """Check that ``folder`` holds a finished ``config`` (with ``split``, when given) and that the shards of
    every split (``datasets`` prepares them all) are the card's: whole (each has its footer), of this
    subset's columns, as many rows as the card says. Reads the card and the shards' footers only;
    returns ``split -> shard files``."""
    folder = Path(folder)
    card = _folder_card(folder)
    patterns = _card_splits(folder, card, config)
    if split is not None and split not in patterns:
        raise ValueError(f"{folder}: {config} has no split {split!r}; pass --split {' or --split '.join(patterns)}")
    rows = _card_rows(folder, card, config)
    return {name: _check_shards(folder, config, name, pattern, rows.get(name)) for name, pattern in patterns.items()}


def _check_shards(folder: Path, config: str, split: str, pattern: str, rows: int | None) -> list[Path]:
    readme, expected = folder / CARD, f"{config}/{split}-*.parquet"
    if pattern != expected:
        raise DamagedFileError(f"{readme}: {config}/{split} reads {pattern!r}, not {expected!r}; {REWRITE_CARD}")
    shards = sorted(folder.glob(expected))
    columns = get_subset(config).features.arrow_schema.names
    held = 0
    for path in shards:
        metadata = shard_metadata(path)
        if metadata.schema.to_arrow_schema().names != columns:
            raise DamagedFileError(f"{path}: not a {config} shard (other columns); {REDO_SHARD}")
        held += metadata.num_rows
    if rows is not None and held != rows:
        raise DamagedFileError(
            f"{readme}: {config}/{split} has {rows} rows but the {len(shards)} files {expected} hold {held}: "
            "delete shards that do not belong, then rerun the `samrs build` or `samrs import-release` that wrote "
            "the folder (it redoes missing tiles and the card), or pass it --overwrite to start the subset over"
        )
    return shards


def load_subset(dataset: str | Path, config: str, split: str | None = None) -> Dataset | DatasetDict:
    """``load_dataset(dataset, config, split=split)`` of a SAMRS folder or Hub id: how samrs opens one for reading.

    ``dataset`` is a folder when it is a ``Path`` or a folder of that name exists, else a Hub id. A folder is
    checked first (:func:`check_subset`); ``datasets`` verifies every Parquet page against its
    checksum as it reads; a damaged file is a :class:`~samrs_hf.errors.DamagedFileError` naming it.
    """
    import pyarrow.dataset as ds
    from datasets import load_dataset
    from datasets.exceptions import ChecksumVerificationError, DatasetBuildError, SplitsVerificationError

    local = isinstance(dataset, Path) or Path(dataset).is_dir()
    shards = check_subset(Path(dataset), config, split) if local else {}
    verify_pages = ds.ParquetFragmentScanOptions(page_checksum_verification=True)
    try:
        return load_dataset(str(dataset), config, split=split, fragment_scan_options=verify_pages)
    except (DatasetBuildError, SplitsVerificationError, ChecksumVerificationError, yaml.YAMLError) as error:
        for path in chain.from_iterable(shards.values()):
            verify_shard(path)  # names the damaged shard
        cause = summary(error.__cause__ or error)
        raise DamagedFileError(
            f"{dataset}: `datasets` could not read {config} ({cause}); rebuild the folder, or for a Hub dataset "
            "delete its copy in the datasets cache (HF_DATASETS_CACHE) and load it again"
        ) from None
