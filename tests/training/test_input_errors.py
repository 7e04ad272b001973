"""Damaged training input met in DataLoader workers is one ``error:`` line naming the file and the fix (exit
status 1), for read-by-index and streamed input; a bug there keeps its traceback (exit status 3). Evaluation
skips only a split the dataset lacks."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from samrs_folders import learnable_row, write_samrs

from samrs_hf.cli import main
from samrs_hf.dataset.folder import load_subset
from samrs_hf.training.cache import split_folder
from samrs_hf.training.cache_writer import write_cache
from samrs_hf.training.pretrain import SepArguments, load_evaluation

pytestmark = pytest.mark.filterwarnings("ignore:'set_vital' is deprecated")  # torchdata 0.11 under torch 2.13


def damaged_row(index: int, num_classes: int) -> dict:
    """:func:`learnable_row`, but row 3's image bytes are no image."""
    row = learnable_row(index, num_classes)
    return {**row, "image": {"bytes": b"no image", "path": None}} if index == 3 else row


@pytest.fixture(scope="module")
def stream_dirs(tmp_path_factory):
    """Two SOTA folders of 4 rows, one per shard (2 for each of 2 workers): sound, and with row 3 damaged."""
    root = tmp_path_factory.mktemp("streams")
    sizes = {"sota": {"train": 4}}
    return {
        "sound": write_samrs(root / "sound", sizes, learnable_row, rows_per_shard=1),
        "damaged": write_samrs(root / "damaged", sizes, damaged_row, rows_per_shard=1),
    }


@pytest.fixture(scope="module")
def damaged_cache(samrs_dir, tmp_path_factory):
    """A training cache of SOTA's train split with a label byte of its last tile (row 3) flipped."""
    root = tmp_path_factory.mktemp("cache")
    folder = write_cache(load_subset(samrs_dir, "sota", "train"), split_folder(root, "sota", "train"))
    labels = bytearray((folder / "labels.npy").read_bytes())
    labels[-100] ^= 0x01
    (folder / "labels.npy").write_bytes(labels)
    return root


def pretrain_flags(dataset, backbone_dir, tmp_path) -> list[str]:
    """``samrs pretrain`` of SOTA alone for 2 steps of 4 samples, made by 2 DataLoader workers."""
    tiny = ["--decoder", "unet", "--decoder-channels", "8", "--batch-size", "4", "--max-steps", "2"]
    tiny += ["--crop-size", "32", "--eval-steps", "0", "--checkpointing-steps", "0", "--num-workers", "2"]
    common = ["--dataset", str(dataset), "--configs", "sota", "--backbone", str(backbone_dir)]
    return ["pretrain", *common, *tiny, "--output-dir", str(tmp_path / "out")]


def pretrain(dataset, backbone_dir, tmp_path, *flags: str) -> int:
    return main([*pretrain_flags(dataset, backbone_dir, tmp_path), *flags])


def test_a_damaged_cache_tile_read_in_a_worker_is_one_line(samrs_dir, damaged_cache, backbone_dir, tmp_path, capsys):
    assert pretrain(samrs_dir, backbone_dir, tmp_path, "--training-cache", str(damaged_cache)) == 1
    labels = split_folder(damaged_cache, "sota", "train") / "labels.npy"
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (
        f"samrs pretrain: error: {labels}: the labels of row 3 differ from their checksum in tiles.npy (the file "
        "was altered); run `samrs prepare-training` again to replace it"
    )


def test_a_streamed_row_that_does_not_decode_in_a_worker_is_one_line(stream_dirs, backbone_dir, tmp_path, capsys):
    assert pretrain(stream_dirs["damaged"], backbone_dir, tmp_path, "--streaming") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    error = err.splitlines()[-1]
    assert error.startswith("samrs pretrain: error: sota train: row S3__64__0___0 does not decode (cannot identify")
    assert error.endswith(
        "its Parquet file is damaged; write or download the subset again, or leave sota out of --configs"
    )


BUGGY_SAMRS = """
import sys
from samrs_hf.training import data

def broken(image, label):
    raise ZeroDivisionError("a bug")

data.to_tensors = broken
from samrs_hf.cli import main
sys.exit(main(sys.argv[1:]))
"""
"""``samrs`` with a bug where DataLoader workers make batches (run apart: after a bug, torch's workers of a
loader left to the garbage collector take 5 s each to end)."""


@pytest.mark.parametrize("streaming", [False, True])
def test_a_bug_in_a_worker_keeps_its_traceback(stream_dirs, backbone_dir, tmp_path, streaming):
    flags = pretrain_flags(stream_dirs["sound"], backbone_dir, tmp_path) + (["--streaming"] if streaming else [])
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    bug = subprocess.run(
        [sys.executable, "-c", BUGGY_SAMRS, *flags], capture_output=True, text=True, env=env, timeout=120
    )
    assert bug.returncode == 3
    assert "Caught ZeroDivisionError in DataLoader worker process" in bug.stderr
    assert ", in broken\nZeroDivisionError: a bug" in bug.stderr  # the worker's traceback
    assert bug.stderr.splitlines()[-1].startswith("samrs pretrain: unexpected error (exit status 3): this is a bug")


def evaluation_arguments(dataset, **options) -> SepArguments:
    return SepArguments(dataset=str(dataset), configs=["sota", "sior", "fast"], **options)


def test_only_a_missing_evaluation_split_is_skipped(samrs_dir, caplog):
    with caplog.at_level(logging.WARNING):
        evaluation = load_evaluation(evaluation_arguments(samrs_dir))
    assert list(evaluation) == ["sota", "sior"]
    assert "no 'validation' split for fast: not evaluated" in caplog.messages


def test_a_stale_evaluation_cache_is_an_error(samrs_dir, tmp_path):
    write_cache(load_subset(samrs_dir, "sota", "train"), split_folder(tmp_path, "sota", "validation"))
    with pytest.raises(ValueError, match=r"training cache .*sota/validation was made from another version"):
        load_evaluation(evaluation_arguments(samrs_dir, training_cache=str(tmp_path)))


def test_a_damaged_evaluation_split_is_an_error(tmp_path):
    folder = write_samrs(tmp_path / "samrs", {"sota": {"train": 2, "validation": 2}}, learnable_row)
    (shard,) = (folder / "sota").glob("validation-*.parquet")
    shard.write_bytes(shard.read_bytes()[:-20])
    with pytest.raises(OSError, match=shard.name):
        load_evaluation(SepArguments(dataset=str(folder), configs=["sota"]))
