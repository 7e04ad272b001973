"""Streamed pre-training input: rows split between processes, the map-style shares and augmentation, exact
resume through a StatefulDataLoader and through accelerate's checkpoints on two (local) machines."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from datasets import IterableDataset
from samrs_folders import learnable_row, write_samrs
from torchdata.stateful_dataloader import StatefulDataLoader

from samrs_hf.cli import main
from samrs_hf.training.data import StepBatches, load_samrs
from samrs_hf.training.streaming import StreamBatches, open_stream, stream_workers

ROOT = Path(__file__).resolve().parents[2]
STREAM_SIZES = {"sota": {"train": 8, "validation": 2}, "sior": {"train": 4, "validation": 2}, "fast": {"train": 8}}
"""One row per shard (and row group): at least 2 shards per config for each of 2 processes."""


@pytest.fixture(scope="module")
def stream_dir(tmp_path_factory):
    return write_samrs(tmp_path_factory.mktemp("stream") / "samrs", STREAM_SIZES, learnable_row, rows_per_shard=1)


def tile_digests(stream) -> list[str]:
    return [hashlib.sha256(row["image"]["bytes"]).hexdigest() for row in stream]


def test_each_process_streams_its_own_tiles(stream_dir):
    everything = tile_digests(open_stream(str(stream_dir), "sota", "train"))
    halves = [tile_digests(open_stream(str(stream_dir), "sota", "train", rank, 2)) for rank in range(2)]
    assert len(set(everything)) == 8 and len(halves[0]) == len(halves[1]) == 4
    assert not set(halves[0]) & set(halves[1]) and set(halves[0]) | set(halves[1]) == set(everything)


def test_streamed_batches_have_the_map_style_shares_and_sizes(stream_dir):
    sources = load_samrs(str(stream_dir), ["sota", "sior", "fast"], "train")
    sizes = {"sota": 3, "sior": 2, "fast": 3}
    for process in range(2):
        streams = {name: open_stream(str(stream_dir), name, "train", process, 2) for name in sizes}
        streamed = iter(StreamBatches(streams, sizes, 32, 0, 4, stop=4, process_index=process, num_processes=2))
        for micro_step in range(4):
            indexed = StepBatches(sources, sizes, 32, 0, process_index=process, num_processes=2)[micro_step]
            batch = next(streamed)
            assert {k: v[0].shape for k, v in batch.items()} == {k: v[0].shape for k, v in indexed.items()}


def assert_resumes_with_the_same_batches(stream_dir: Path, workers: int) -> None:
    """A shuffle buffer of 3 and 8 tiles: the checkpoint falls inside a block and an epoch."""
    sizes = {"sota": 3, "fast": 2}

    def loader() -> StatefulDataLoader:
        streams = {name: open_stream(str(stream_dir), name, "train") for name in sizes}
        batches = StreamBatches(streams, sizes, 32, 7, 3, stop=12)
        return StatefulDataLoader(batches, batch_size=None, num_workers=workers)

    first = loader()
    batches = iter(first)
    for _ in range(5):
        next(batches)
    state = first.state_dict()
    expected = [next(batches) for _ in range(7)]
    resumed = loader()
    resumed.load_state_dict(state)
    again = list(resumed)
    assert len(again) == len(expected) == 7
    for a, b in zip(expected, again):
        assert all(torch.equal(a[k][0], b[k][0]) and torch.equal(a[k][1], b[k][1]) for k in sizes)


@pytest.mark.filterwarnings("ignore:'set_vital' is deprecated")  # torchdata 0.11 under torch 2.13
@pytest.mark.parametrize("workers", [0, 2])
def test_stateful_loader_resumes_with_the_same_batches(stream_dir, workers):
    assert_resumes_with_the_same_batches(stream_dir, workers)


@pytest.mark.filterwarnings("ignore:'set_vital' is deprecated")
def test_workers_do_not_share_their_streams_epochs(stream_dir, monkeypatch):
    """``datasets`` keeps a stream's epoch in memory shared by the DataLoader workers it is sent to; here each
    ``set_epoch`` lingers so that the other worker's lands before its stream starts, as it did now and then."""
    set_epoch = IterableDataset.set_epoch

    def lingering_set_epoch(self: IterableDataset, epoch: int) -> None:
        set_epoch(self, epoch)
        time.sleep(0.1)

    monkeypatch.setattr(IterableDataset, "set_epoch", lingering_set_epoch)
    assert_resumes_with_the_same_batches(stream_dir, workers=2)


def test_too_few_shards_warns_and_lowers_the_workers(stream_dir, caplog):
    streams = {"sior": open_stream(str(stream_dir), "sior", "train", 0, 2)}  # 4 shards: 2 for this process
    with caplog.at_level(logging.WARNING):
        assert stream_workers(streams, 4, 2) == 2
    assert "sior: 2 shards (Parquet row groups) per process for 2 processes x 4 DataLoader workers" in caplog.text
    assert "pass --num-workers 2" in caplog.text


@pytest.mark.parametrize("streaming", [False, True])
def test_a_folder_without_a_default_config_names_its_subsets_and_configs(tmp_path, capsys, streaming):
    folder = write_samrs(tmp_path / "only-sota", {"sota": {"train": 1}}, learnable_row)
    flags = ["--dataset", str(folder), "--no-pretrained-backbone", "--output-dir", str(tmp_path / "out")]
    assert main(["pretrain", *flags, *(["--streaming"] if streaming else [])]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [
        f"samrs pretrain: error: --configs: {folder} has no sior fast (its subsets: sota); pass --configs sota"
    ]


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["--shuffle-buffer", "0"], "--shuffle-buffer must be at least 1, got 0"),
        (["--training-cache", "cache"], "--training-cache is read from disk, --streaming reads no local copy"),
    ],
)
def test_streaming_flag_mistakes_are_one_line(stream_dir, tmp_path, capsys, flags, error):
    flags += ["--dataset", str(stream_dir), "--streaming", "--output-dir", str(tmp_path / "out")]
    assert main(["pretrain", *flags]) == 1
    assert error in capsys.readouterr().err.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_streamed_pretraining_on_two_machines_resumes_exactly(stream_dir, backbone_dir, tmp_path):
    """README's several-machine recipe on one machine: two `accelerate launch --num_machines 2` (one process
    each, gloo over loopback, two DataLoader workers, two accumulation steps), each with its own --output-dir
    (no shared folder). A run of 4 steps, and a run resumed from its checkpoint at step 2 copied to both
    machines, log the same losses for steps 3 and 4."""

    def launch(outputs: list[Path], *extra: str) -> list[dict]:
        port, children = str(free_port()), []
        for rank, output in enumerate(outputs):
            command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_machines", "2"]
            command += ["--machine_rank", str(rank), "--num_processes", "2", "--main_process_ip", "127.0.0.1"]
            command += ["--main_process_port", port, "--dynamo_backend", "no", "--mixed_precision", "no"]
            command += [str(ROOT / "examples" / "pretrain_sep.py"), "--dataset", str(stream_dir), "--backbone"]
            command += [str(backbone_dir), "--decoder", "unet", "--decoder-channels", "8", "--batch-size", "12"]
            command += ["--max-steps", "4", "--crop-size", "32", "--checkpointing-steps", "2", "--eval-steps", "4"]
            command += ["--num-workers", "2", "--gradient-accumulation-steps", "2", "--streaming"]
            command += ["--shuffle-buffer", "3", "--output-dir", str(output), *extra]
            env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
            children.append(subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path))
        for child in children:
            _, stderr = child.communicate(timeout=300)
            assert child.returncode == 0, stderr[-3000:]
        return json.loads((outputs[0] / "training_log.json").read_text())

    full = launch([tmp_path / "full-0", tmp_path / "full-1"])
    assert [p.name for p in (tmp_path / "full-1").rglob("*") if p.is_file()] == ["random_states_1.pkl"] * 2
    resumed_dirs = [tmp_path / "resumed-0", tmp_path / "resumed-1"]
    for rank, folder in enumerate(resumed_dirs):  # the main machine's checkpoint, and each machine's RNG state
        step_2 = folder / "checkpoints" / "step_2"
        shutil.copytree(tmp_path / "full-0" / "checkpoints" / "step_2", step_2)
        shutil.copy(tmp_path / f"full-{rank}" / "checkpoints" / "step_2" / f"random_states_{rank}.pkl", step_2)
    resumed = launch(resumed_dirs, "--resume-from-checkpoint", "latest")
    assert [row["step"] for row in full] == [1, 2, 3, 4] and [row["step"] for row in resumed] == [3, 4]
    for before, after in zip(full[2:], resumed):
        assert after == before  # losses per head, learning rate, eval mIoU
    assert "eval/sota/mIoU" in full[-1] and "eval/sior/mIoU" in full[-1]
