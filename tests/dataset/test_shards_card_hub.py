import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
from datasets import ClassLabel, load_dataset
from huggingface_hub import DatasetCard, HfApi
from huggingface_hub.utils import filter_repo_objects
from samrs_folders import overlap_row, write_samrs

from samrs_hf.dataset import hub, shards
from samrs_hf.dataset.card import count_subset, write_card
from samrs_hf.dataset.hub import push_dataset
from samrs_hf.dataset.shards import (
    STAGING,
    ShardWriter,
    committed_ids,
    publish_staged,
    remove_partial_shards,
    shard_files,
)
from samrs_hf.dataset.subsets import SUBSETS


def test_shards_are_staged_whole_and_published_without_a_name_clash(tmp_path):
    folder = tmp_path / "sota"
    writer = ShardWriter(folder, "train", SUBSETS["sota"].features, rank=1, rows_per_shard=2)
    for index in range(3):
        writer.add(overlap_row(index))
    assert [p.name for p in shard_files(folder, staged=True)] == ["train-r01-00000.parquet"]  # third row buffered
    assert shard_files(folder) == [] and not list(folder.rglob("*.tmp"))
    writer.flush()
    assert publish_staged(folder) == 2 and not (folder / STAGING).exists()
    again = ShardWriter(folder, "train", SUBSETS["sota"].features, rank=1, rows_per_shard=2)
    again.add(overlap_row(7))
    again.flush()
    assert [p.name for p in shard_files(folder)] == ["train-r01-00000.parquet", "train-r01-00001.parquet"]
    assert [p.name for p in shard_files(folder / STAGING)] == ["train-r01-00002.parquet"]
    assert committed_ids(folder) == {"train": {f"S{i}__64__0___0" for i in (0, 1, 2, 7)}}


def test_a_shard_closes_at_its_byte_bound_before_its_row_count(tmp_path, monkeypatch):
    folder = tmp_path / "sota"
    writer = ShardWriter(folder, "train", SUBSETS["sota"].features, rows_per_shard=256)
    writer.add(overlap_row(0))
    writer.add(overlap_row(1))
    monkeypatch.setattr(shards, "SHARD_BYTES", 1)  # now every row fills a shard
    for index in range(2, 4):
        writer.add(overlap_row(index))
    writer.flush()
    assert [pq.ParquetFile(p).metadata.num_rows for p in shard_files(folder, staged=True)] == [3, 1]


def test_shards_are_written_a_row_group_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setattr(shards, "ROW_GROUP_ROWS", 2)
    monkeypatch.setattr(shards, "ROW_GROUP_BYTES", 10**9)
    folder = tmp_path / "sota"
    writer = ShardWriter(folder, "train", SUBSETS["sota"].features, rows_per_shard=5)
    for index in range(3):
        writer.add(overlap_row(index))
    assert [p.name for p in (folder / STAGING).iterdir()] == ["train-r00-00000.parquet.tmp"]  # one group on disk
    monkeypatch.setattr(shards, "ROW_GROUP_BYTES", 1)  # now every row closes its group
    for index in range(3, 6):
        writer.add(overlap_row(index))
    writer.flush()
    first, second = (pq.ParquetFile(p) for p in shard_files(folder, staged=True))
    assert [first.metadata.row_group(i).num_rows for i in range(first.num_row_groups)] == [2, 2, 1]
    assert second.metadata.num_rows == 1 and not list(folder.rglob("*.tmp"))
    publish_staged(folder)
    rows = load_dataset("parquet", data_files=[str(p) for p in shard_files(folder)], split="train")
    assert rows["image_id"] == [f"S{i}__64__0___0" for i in range(6)]
    assert rows.features == SUBSETS["sota"].features


def test_partial_shards_are_ignored_and_removed(tmp_path):
    write_samrs(tmp_path, {"sota": {"train": 2}})
    (tmp_path / "sota" / STAGING).mkdir()
    (tmp_path / "sota" / STAGING / "train-r00-00009.parquet.tmp").write_bytes(b"half a shard")
    assert len(committed_ids(tmp_path / "sota")["train"]) == 2
    assert remove_partial_shards(tmp_path / "sota") == 1
    assert not list((tmp_path / "sota").rglob("*.tmp"))


def test_load_dataset_by_path_with_schema(tmp_path):
    write_samrs(tmp_path / "out", {"sota": {"train": 5}})
    ds = load_dataset(str(tmp_path / "out"), "sota", split="train")
    assert len(ds) == 5
    category = ds.features["objects"].feature["category"]
    assert isinstance(category, ClassLabel) and category.names == list(SUBSETS["sota"].classes)
    row = ds.sort("image_id")[0]
    assert row["semantic_map"].mode == "L" and row["image"].mode == "RGB"
    assert [o["category"] for o in row["objects"]] == [1, 3]
    assert row["objects"][0]["rbox"] is None and row["tile"] == [0, 0]


def test_configs_merge_and_load_by_folder_name(tmp_path, monkeypatch):
    root = tmp_path / "samrs"
    write_samrs(root, {"sota": {"train": 3}})
    card = DatasetCard.load(root / "README.md")
    card.data.configs.append({"config_name": "extra", "data_files": "extra/*.parquet"})
    card.save(root / "README.md")
    write_samrs(root, {"fast": {"train": 2}})
    configs = {c["config_name"]: c for c in DatasetCard.load(root / "README.md").data.configs}
    assert set(configs) == {"sota", "fast", "extra"}
    assert configs["fast"]["data_files"] == [{"split": "train", "path": "fast/train-*.parquet"}]
    monkeypatch.chdir(tmp_path)
    fast = load_dataset("samrs", "fast", split="train")
    assert len(fast) == 2
    assert fast.features["objects"].feature["category"].names == list(SUBSETS["fast"].classes)


def test_card_has_metadata_counts_and_citation(tmp_path):
    write_samrs(tmp_path, {"sota": {"train": 4}})
    card = DatasetCard.load(tmp_path / "README.md")
    assert card.data.license == "other"
    assert set(card.data.task_categories) == {"image-segmentation", "object-detection"}
    names = SUBSETS["sota"].classes
    assert f"| 1 | {names[1]} | 4 |" in card.text and f"| 3 | {names[3]} | 4 |" in card.text
    assert f"| 0 | {names[0]} | 0 |" in card.text
    assert "academic research use only" in card.text and "@inproceedings{wang2023samrs" in card.text
    assert "smaller object survives" in card.text
    counts = count_subset(tmp_path / "sota", SUBSETS["sota"])
    assert counts.rows == {"train": 4} and counts.instances == {names[1]: 4, names[3]: 4}


def test_a_card_describes_finished_subsets_only(tmp_path):
    assert write_card(tmp_path) is None and not (tmp_path / "README.md").exists()
    write_samrs(tmp_path, {"sota": {"train": 1}, "sior": {"train": 1}})
    shutil.rmtree(tmp_path / "sior")
    write_card(tmp_path)
    assert [c["config_name"] for c in DatasetCard.load(tmp_path / "README.md").data.configs] == ["sota"]
    shutil.rmtree(tmp_path / "sota")
    assert write_card(tmp_path) is None and not (tmp_path / "README.md").exists()


def test_push_uploads_exactly_the_card_and_finished_shards(tmp_path, monkeypatch):
    """The recorded upload, filtered as huggingface_hub filters it, is the card and the finished shards (no
    build record, no running build's shards, nothing else), and loads with load_dataset."""
    folder = write_samrs(tmp_path / "samrs", {"sota": {"train": 3}})
    staged = ShardWriter(folder / "sota", "train", SUBSETS["sota"].features)  # a build running in it
    staged.add(overlap_row(9))
    staged.flush()
    (folder / "sota" / ".build.json").write_text(json.dumps({"model": str(tmp_path / "sam")}))
    (folder / "notes.txt").write_text("mine")
    calls = {}

    def create_repo(self, repo_id, **kwargs):
        calls["create"] = (repo_id, kwargs)
        return "https://huggingface.co/datasets/org/samrs"

    monkeypatch.setattr(hub, "check_hub_upload", lambda *args: calls.setdefault("check", args))
    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **kwargs: calls.setdefault("upload", kwargs))
    url = push_dataset(folder, "org/samrs", private=True, token="hf_x")
    assert url == "https://huggingface.co/datasets/org/samrs"
    assert calls["check"] == ("org/samrs", "--repo-id", "hf_x")
    assert calls["create"] == ("org/samrs", {"repo_type": "dataset", "private": True, "exist_ok": True})
    upload = calls["upload"]
    assert (upload["folder_path"], upload["repo_id"], upload["repo_type"]) == (str(folder), "org/samrs", "dataset")
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    uploaded = list(filter_repo_objects(files, allow_patterns=upload["allow_patterns"]))
    assert sorted(uploaded) == ["README.md", "sota/train-r00-00000.parquet", "sota/train-r00-00001.parquet"]
    repo = tmp_path / "hub" / "samrs"
    for name in uploaded:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / name, repo / name)
    ids = load_dataset(str(repo), "sota", split="train")["image_id"]
    assert sorted(ids) == [f"S{i}__64__0___0" for i in range(3)]


def test_push_takes_only_a_samrs_dataset_folder(tmp_path):
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "README.md").write_text("# my notes\n")
    model = tmp_path / "model"
    model.mkdir()
    (model / "README.md").write_text("---\ntags:\n- samrs\n---\n# a SEP model card\n")
    for folder in (tmp_path / "missing", tmp_path, junk, model):
        with pytest.raises(ValueError, match=f"^{folder} is not a SAMRS dataset folder"):
            push_dataset(folder, "org/samrs")
    write_samrs(tmp_path / "samrs", {"sota": {"train": 1}})
    with pytest.raises(ValueError, match="--repo-id samrs: not a Hub repo id; give one with its namespace"):
        push_dataset(tmp_path / "samrs", "samrs")


def test_features_round_trip_rbox():
    features = SUBSETS["fast"].features
    row = overlap_row(0)
    row["objects"][0]["rbox"] = [10.0, 20.0, 8.0, 4.0, 0.5]
    encoded = features.encode_example(row)
    np.testing.assert_allclose(encoded["objects"][0]["rbox"], [10, 20, 8, 4, 0.5])


def test_folders_of_one_name_and_grown_folders_do_not_share_a_cache(tmp_path):
    """datasets 5 keys a local folder's cache by its card: the card's sizes must tell builds apart."""
    cache = tmp_path / "hf-cache"
    first, second = (
        write_samrs(tmp_path / "a" / "samrs", {"sota": {"train": 3}}),
        write_samrs(tmp_path / "b" / "samrs", {"sota": {"train": 4}}),
    )
    assert len(load_dataset(str(first), "sota", split="train", cache_dir=str(cache))) == 3
    assert len(load_dataset(str(second), "sota", split="train", cache_dir=str(cache))) == 4

    writer = ShardWriter(first / "sota", "train", SUBSETS["sota"].features)  # a resumed build adds a shard
    writer.add(overlap_row(7))
    writer.flush()
    publish_staged(first / "sota")
    write_card(first)
    ids = load_dataset(str(first), "sota", split="train", cache_dir=str(cache))["image_id"]
    assert sorted(ids) == sorted(f"S{i}__64__0___0" for i in (0, 1, 2, 7))
