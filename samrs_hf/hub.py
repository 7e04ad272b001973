"""A SAMRS dataset folder: features, Parquet shards, the dataset card, and pushing to the Hub.

Layout of ``DATASET_DIR`` (the same on the Hub, so ``load_dataset`` reads both)::

    README.md                               card; YAML ``configs:`` names every built subset
    sota/build.json                         settings the shards were built with (model, prompt, tiling)
    sota/train-r00-00000.parquet            {config}/{split}-r{rank}-{index}.parquet
    sota/validation-r01-00003.parquet
    fast/...

Shards are written to ``*.parquet.tmp`` and renamed when complete, so a killed build leaves
only whole shards; :func:`committed_ids` recovers the tiles they hold for resuming.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datasets import ClassLabel, DatasetInfo, Features, Image, List, SplitDict, SplitInfo, Value
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCard, DatasetCardData, HfApi
from PIL import Image as PILImage

from samrs_hf.classes import SAMRS_RELEASE_CLASSES

__all__ = [
    "samrs_features",
    "image_bytes",
    "ShardWriter",
    "shard_files",
    "committed_ids",
    "remove_partial_shards",
    "read_build_settings",
    "write_build_settings",
    "SubsetCounts",
    "count_subset",
    "write_card",
    "push_dataset",
]

TEMPLATES = Path(__file__).parent / "card_templates"
BUILD_SETTINGS = "build.json"
SHARD_RE = re.compile(r"^(?P<split>\w+)-r(?P<rank>\d+)-(?P<index>\d+)\.parquet$")


def samrs_features(subset: str) -> Features:
    """The DESIGN.md schema; ``category`` is a ClassLabel in SAMRS release order."""
    return Features(
        {
            "image_id": Value("string"),
            "image": Image(),
            "semantic_map": Image(),
            "objects": List(
                {
                    "category": ClassLabel(names=list(SAMRS_RELEASE_CLASSES[subset])),
                    "bbox": List(Value("float32"), length=4),
                    "rbox": List(Value("float32"), length=5),
                    "segmentation": {"size": List(Value("int32"), length=2), "counts": Value("string")},
                    "area": Value("int64"),
                    "score": Value("float32"),
                    "prompt_box": List(Value("float32"), length=4),
                }
            ),
            "width": Value("int32"),
            "height": Value("int32"),
            "source": Value("string"),
            "tile": List(Value("int32"), length=2),
        }
    )


def image_bytes(image: PILImage.Image) -> dict:
    """``{"bytes", "path"}`` for an Image feature: PNG bytes, never a local path."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": None}


def shard_files(folder: Path, split: str | None = None) -> list[Path]:
    """Committed shards in ``folder`` (optionally of one split), sorted by name."""
    files = [p for p in Path(folder).glob("*.parquet") if SHARD_RE.match(p.name)]
    return sorted(p for p in files if split is None or SHARD_RE.match(p.name)["split"] == split)


def committed_ids(folder: Path) -> dict[str, set[str]]:
    """``split -> image ids`` already in committed shards (what a resumed build skips)."""
    done: dict[str, set[str]] = {}
    for path in shard_files(folder):
        ids = pq.read_table(path, columns=["image_id"]).column("image_id").to_pylist()
        done.setdefault(SHARD_RE.match(path.name)["split"], set()).update(ids)
    return done


def remove_partial_shards(folder: Path) -> int:
    """Delete ``*.parquet.tmp`` left by a killed build; returns how many there were."""
    partial = list(Path(folder).glob("*.parquet.tmp"))
    for path in partial:
        path.unlink()
    return len(partial)


def read_build_settings(folder: Path) -> dict | None:
    """The settings recorded in ``folder/build.json``, or ``None`` when there are none."""
    path = Path(folder) / BUILD_SETTINGS
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_build_settings(folder: Path, settings: dict) -> Path:
    """Record the settings a subset's shards are built with (read back by resumes and the card)."""
    path = Path(folder) / BUILD_SETTINGS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2, sort_keys=True), encoding="utf-8")
    return path


class ShardWriter:
    """Buffers encoded rows of one split and commits a shard every ``rows_per_shard`` rows.

    Each shard is written to ``NAME.parquet.tmp`` and renamed, so it appears whole or not at
    all. Shard indices continue after this rank's committed shards, so resumed builds append.
    """

    def __init__(self, folder: Path, split: str, features: Features, rank: int = 0, rows_per_shard: int = 256):
        if rows_per_shard < 1:
            raise ValueError(f"rows_per_shard must be >= 1, got {rows_per_shard}")
        self.folder, self.split, self.features = Path(folder), split, features
        self.rank, self.rows_per_shard = rank, rows_per_shard
        self.folder.mkdir(parents=True, exist_ok=True)
        own = [SHARD_RE.match(p.name) for p in shard_files(self.folder, split)]
        indices = [int(m["index"]) for m in own if int(m["rank"]) == rank]
        self.next_index = max(indices, default=-1) + 1
        self.rows: list[dict] = []
        self.committed: list[Path] = []

    def add(self, example: dict) -> None:
        self.rows.append(self.features.encode_example(example))
        if len(self.rows) >= self.rows_per_shard:
            self.flush()

    def flush(self) -> None:
        """Commit the buffered rows as one shard (nothing when the buffer is empty)."""
        if not self.rows:
            return
        path = self.folder / f"{self.split}-r{self.rank:02d}-{self.next_index:05d}.parquet"
        tmp = path.with_name(path.name + ".tmp")
        table = pa.Table.from_pylist(self.rows, schema=self.features.arrow_schema)
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        self.committed.append(path)
        self.rows, self.next_index = [], self.next_index + 1


@dataclass
class SubsetCounts:
    """Rows per split and instances per class of one built subset (read back from its shards)."""

    rows: Counter = field(default_factory=Counter)
    instances: Counter = field(default_factory=Counter)


def count_subset(folder: Path, subset: str) -> SubsetCounts:
    """Count rows per split and instances per release class from committed shards."""
    counts = SubsetCounts()
    names = SAMRS_RELEASE_CLASSES[subset]
    for path in shard_files(folder):
        split = SHARD_RE.match(path.name)["split"]
        for batch in pq.ParquetFile(path).iter_batches(columns=["objects"]):
            counts.rows[split] += batch.num_rows
            categories = pc.struct_field(pc.list_flatten(batch.column("objects")), "category")
            counts.instances.update(names[i] for i in categories.to_pylist())
    return counts


def _config_entry(folder: Path, subset: str, counts: SubsetCounts) -> dict:
    splits = sorted(counts.rows, key=lambda s: (s != "train", s != "validation", s))
    return {
        "config_name": subset,
        "data_files": [{"split": s, "path": f"{folder.name}/{s}-*.parquet"} for s in splits],
    }


def _dataset_info(folder: Path, subset: str, counts: SubsetCounts) -> DatasetInfo:
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
    return DatasetInfo(features=samrs_features(subset), splits=splits, download_size=size, config_name=subset)


def write_card(dataset_dir: Path) -> Path:
    """Write ``README.md`` for every subset folder in ``dataset_dir`` from the packaged templates.

    ``configs:`` and ``dataset_info`` list each built subset; entries for other configs already
    in an existing card are kept. Row and per-class instance counts are read from the shards.
    """
    dataset_dir = Path(dataset_dir)
    built = {
        name: count_subset(dataset_dir / name, name)
        for name in SAMRS_RELEASE_CLASSES
        if shard_files(dataset_dir / name)
    }
    if not built:
        raise FileNotFoundError(f"no SAMRS shards under {dataset_dir}/{{{','.join(SAMRS_RELEASE_CLASSES)}}}")
    configs = [_config_entry(dataset_dir / name, name, counts) for name, counts in built.items()]
    infos = DatasetInfosDict({name: _dataset_info(dataset_dir / name, name, c) for name, c in built.items()})
    readme = dataset_dir / "README.md"
    if readme.exists():
        previous = DatasetCard.load(readme).data
        configs += [c for c in previous.to_dict().get("configs") or [] if c.get("config_name") not in built]
        kept = DatasetInfosDict.from_dataset_card_data(previous)
        infos.update({name: info for name, info in kept.items() if name not in built})
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
            "description": (TEMPLATES / f"{name}.md").read_text(encoding="utf-8").strip(),
            "rows": dict(counts.rows),
            "instances": sum(counts.instances.values()),
            "settings": read_build_settings(dataset_dir / name) or {},
            "classes": [(c, counts.instances[c]) for c in SAMRS_RELEASE_CLASSES[name]],
        }
        for name, counts in built.items()
    ]
    infos.to_dataset_card_data(card_data)
    card = DatasetCard.from_template(card_data, template_path=str(TEMPLATES / "samrs.md"), subsets=subsets)
    card.save(readme)
    return readme


def push_dataset(dataset_dir: Path, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Upload ``dataset_dir`` (shards + README) to the dataset repo ``repo_id``; returns its URL.

    On the Hub a dataset needs a namespace: load it with ``load_dataset("ORG/NAME", "fast")``.
    """
    dataset_dir = Path(dataset_dir)
    if not (dataset_dir / "README.md").is_file():
        raise FileNotFoundError(f"{dataset_dir}/README.md not found: build the dataset first (samrs build)")
    if "/" not in repo_id:
        raise ValueError(f"repo id {repo_id!r} needs a namespace, e.g. ORG/{repo_id}")
    api = HfApi(token=token)
    url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    api.upload_folder(
        folder_path=str(dataset_dir),
        repo_id=repo_id,
        repo_type="dataset",
        ignore_patterns=["*.parquet.tmp", ".*"],
        commit_message="Upload SAMRS dataset",
    )
    return str(url)
