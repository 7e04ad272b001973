"""SubsetWriter: never writes over someone else's files, never loads as complete mid-build, starts over on request."""

from __future__ import annotations

from functools import partial

import pytest
from datasets import load_dataset
from huggingface_hub import DatasetCard
from samrs_folders import overlap_row, write_samrs

from samrs_hf.dataset.folder import check_dataset_folder
from samrs_hf.dataset.shards import STAGING, read_build_settings, shard_files
from samrs_hf.dataset.subsets import SUBSETS
from samrs_hf.dataset.writer import SubsetWriter

SOTA = SUBSETS["sota"]


def _stage(root, rows: range, settings: dict | None = None, overwrite: bool = False) -> SubsetWriter:
    """Write ``rows`` of SOTA's train split as a build that has not finished (shards staged, no card update)."""
    writer = SubsetWriter(root, SOTA, rows_per_shard=1)
    done = writer.prepare(settings or {"prompt": "hbox"}, overwrite=overwrite)
    with writer.open() as put:
        for index in rows:
            if ("train", f"S{index}__64__0___0") not in done:
                put("train", partial(overlap_row, index))
    return writer


@pytest.mark.parametrize(
    "foreign", [{"README.md": "# My notes\n"}, {"notes.txt": "mine"}, {"README.md": "---\ntags: [other]\n---\n"}]
)
def test_a_folder_holding_someone_elses_files_is_refused_and_left_as_it_was(tmp_path, foreign):
    for name, text in foreign.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(FileExistsError, match=r"is not a SAMRS dataset folder .*nothing was changed"):
        _stage(tmp_path, range(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(foreign)
    assert all((tmp_path / name).read_text() == text for name, text in foreign.items())


def test_a_samrs_folder_of_ours_is_accepted(tmp_path):
    write_samrs(tmp_path, {"fast": {"train": 1}})
    (tmp_path / ".cache").mkdir()
    check_dataset_folder(tmp_path)
    _stage(tmp_path, range(2)).finish()
    card = DatasetCard.load(tmp_path / "README.md")
    assert sorted(c["config_name"] for c in card.data.configs) == ["fast", "sota"]


def test_a_first_build_killed_mid_way_does_not_load(tmp_path):
    _stage(tmp_path, range(3))  # not finished: no finish()
    assert shard_files(tmp_path / "sota") == [] and len(shard_files(tmp_path / "sota", staged=True)) == 3
    for args in ((), ("sota",)):
        with pytest.raises((FileNotFoundError, ValueError)):
            load_dataset(str(tmp_path), *args, split="train")


def test_a_rebuild_killed_mid_way_loads_as_the_finished_build_then_grows(tmp_path):
    _stage(tmp_path, range(2)).finish()
    _stage(tmp_path, range(4))  # a grown source, killed before finishing
    assert len(load_dataset(str(tmp_path), "sota", split="train")) == 2
    assert len(load_dataset(str(tmp_path), split="train")) == 2
    _stage(tmp_path, range(5)).finish()  # the rerun resumes: rows 2, 3 are staged already
    ids = load_dataset(str(tmp_path), "sota", split="train")["image_id"]
    assert sorted(ids) == [f"S{i}__64__0___0" for i in range(5)]
    assert not (tmp_path / "sota" / STAGING).exists()


def test_other_settings_are_refused_unless_starting_over(tmp_path):
    write_samrs(tmp_path, {"fast": {"train": 1}})
    _stage(tmp_path, range(2), {"prompt": "hbox", "model": "a/b", "model_config": "1"}).finish()
    _stage(tmp_path, range(3), {"prompt": "hbox", "model": "./b", "model_config": "1"}).finish()  # spelling only
    other = {"prompt": "rhbox", "model": "a/b", "model_config": "1"}
    with pytest.raises(
        ValueError, match=r"\.build\.json: .* built with prompt='hbox' \(now 'rhbox'\); .*pass --overwrite"
    ):
        _stage(tmp_path, range(3), other)
    _stage(tmp_path, range(1), other, overwrite=True).finish()
    assert len(load_dataset(str(tmp_path), "sota", split="train")) == 1
    assert len(load_dataset(str(tmp_path), "fast", split="train")) == 1  # the other subset is kept


def test_an_error_while_writing_a_row_reaches_the_caller(tmp_path):
    writer = SubsetWriter(tmp_path, SOTA, rows_per_shard=1, queue_size=1)
    writer.prepare({})

    def broken() -> dict:
        raise RuntimeError("cannot encode this row")

    with pytest.raises(RuntimeError, match="cannot encode this row"), writer.open() as put:
        put("train", partial(overlap_row, 0))
        put("train", broken)
        for index in range(1, 50):  # the writer thread stopped: a later put raises instead of blocking
            put("train", partial(overlap_row, index))
    assert [p.name for p in shard_files(tmp_path / "sota", staged=True)] == ["train-r00-00000.parquet"]


def test_a_build_of_more_splits_records_them_all(tmp_path):
    """Splits are recorded for the card, not compared: a build may add splits to a subset."""
    _stage(tmp_path, range(1), {"prompt": "hbox", "splits": ["train"]}).finish()
    _stage(tmp_path, range(2), {"prompt": "hbox", "splits": ["val", "train"]}).finish()
    assert read_build_settings(tmp_path / "sota") == {"prompt": "hbox", "splits": ["train", "val"]}
    assert "Built from the source splits train, val." in (tmp_path / "README.md").read_text()


def test_rows_built_by_several_threads_are_written_in_the_order_put(tmp_path):
    """Three rows are built at once (the slowest first), and the shards hold the rows as one thread writes them."""
    import threading
    import time

    import pyarrow.parquet as pq

    building, most = set(), []
    lock = threading.Lock()

    def slow_row(index: int) -> dict:
        with lock:
            building.add(index)
            most.append(len(building))
        time.sleep(0.05 * (5 - index % 5))  # earlier rows finish later
        with lock:
            building.discard(index)
        return overlap_row(index)

    shards = {}
    for threads in (1, 3):
        writer = SubsetWriter(tmp_path / str(threads), SOTA, rows_per_shard=4, row_threads=threads)
        writer.prepare({})
        most.clear()
        with writer.open() as put:
            for index in range(10):
                put("train", partial(slow_row, index))
        assert max(most) == threads
        paths = shard_files(tmp_path / str(threads) / "sota", staged=True)
        shards[threads] = [pq.read_table(path).to_pylist() for path in paths]
    assert shards[3] == shards[1] and [row["image_id"] for shard in shards[1] for row in shard] == [
        f"S{i}__64__0___0" for i in range(10)
    ]


def test_row_threads_share_the_machines_cores_among_processes(monkeypatch):
    from samrs_hf.dataset.writer import MAX_ROW_THREADS, default_row_threads

    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert [default_row_threads(n) for n in (1, 2, 4, 32)] == [MAX_ROW_THREADS, 8, 4, 1]
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # torchrun's processes on this machine, of however many machines
    assert SubsetWriter("unused", SOTA).row_threads == 4
    with pytest.raises(ValueError, match="row_threads must be >= 1"):
        SubsetWriter("unused", SOTA, row_threads=-1)
