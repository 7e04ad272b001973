"""The training cache is checked when opened and per tile, and ``samrs prepare-training`` deletes only
caches, checks the free space first, never dies of SIGBUS, and takes its workers with it when killed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import time
from contextlib import suppress

import datasets
import numpy as np
import psutil
import pytest
from isolated import assert_one_line_error, run_samrs, start_samrs
from PIL import Image

from samrs_hf.cli import main
from samrs_hf.dataset.folder import load_subset
from samrs_hf.errors import DamagedFileError
from samrs_hf.training import cache_writer
from samrs_hf.training.cache import open_cache, split_folder
from samrs_hf.training.cache_writer import write_cache


@pytest.fixture(scope="module")
def rows(samrs_dir):
    return load_subset(samrs_dir, "sota", "train")


@pytest.fixture(scope="module")
def pristine(rows, tmp_path_factory):
    return write_cache(rows, tmp_path_factory.mktemp("cache") / "sota" / "train")


@pytest.fixture
def cache(pristine, tmp_path):
    return shutil.copytree(pristine, tmp_path / "sota" / "train")


def edit_index(cache, change, keep_checksum: bool) -> None:
    """Change ``tiles.npy``; with ``keep_checksum`` also record its new sha256 in ``meta.json``."""
    tiles = np.load(cache / "tiles.npy")
    change(tiles)
    np.save(cache / "tiles.npy", tiles)
    if keep_checksum:
        meta = json.loads((cache / "meta.json").read_text())
        meta["tiles_sha256"] = hashlib.sha256((cache / "tiles.npy").read_bytes()).hexdigest()
        (cache / "meta.json").write_text(json.dumps(meta))


def swap_offsets(tiles: np.ndarray) -> None:
    tiles[[0, 1], 0] = tiles[[1, 0], 0]


def cut(path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda c: cut(c / "images.npy", 20000), r"images\.npy: 20000 bytes .* not the 49280 bytes .*\(cut short"),
        (lambda c: cut(c / "labels.npy", 100), r"labels\.npy: not a \.npy array"),
        (lambda c: edit_index(c, swap_offsets, False), r"tiles\.npy: differs from the checksum in meta\.json"),
        (lambda c: edit_index(c, swap_offsets, True), r"tiles\.npy: row 0 at .* \(4096, 64, 64\), not \(0, 64, 64\)"),
        (lambda c: edit_index(c, lambda t: t.__setitem__((2, 0), -5), True), r"row 2 at .* \(-5, 64, 64\)"),
        (lambda c: (c / "meta.json").write_text("{"), r"meta\.json: not a training cache's metadata .* delete"),
        (
            lambda c: (c / "meta.json").write_text("[" * 30_000),
            r"meta\.json: not a training cache's metadata \(.*recurs",
        ),
        (lambda c: (c / "tiles.npy").unlink(), r"tiles\.npy: missing"),
    ],
    ids=[
        "short-images",
        "short-labels",
        "swapped",
        "swapped-rehashed",
        "negative-rehashed",
        "meta",
        "meta-nested",
        "no-index",
    ],
)
def test_a_damaged_cache_is_refused_when_opened(cache, rows, damage, message):
    damage(cache)
    with pytest.raises(DamagedFileError, match=message):
        open_cache(cache, rows)


def test_a_flipped_label_byte_is_caught_on_the_tiles_first_read(cache, rows):
    labels = bytearray((cache / "labels.npy").read_bytes())
    labels[-100] ^= 0x01  # in the last tile; still a valid class, so no range check would see it
    (cache / "labels.npy").write_bytes(labels)
    source = open_cache(cache, rows)
    for index in range(len(rows) - 1):
        source[index]
    with pytest.raises(DamagedFileError, match=rf"labels\.npy: the labels of row {len(rows) - 1} differ"):
        source[len(rows) - 1]


def test_label_values_beyond_the_classes_are_refused_when_written(rows, tmp_path):
    def damage(row: dict, index: int) -> dict:
        label = np.array(row["semantic_map"])
        label[0, 0] = 40 if index == 1 else label[0, 0]  # SOTA has 18 classes
        return {"semantic_map": Image.fromarray(label)}

    with pytest.raises(ValueError, match=r"row 1 \(S1__64__0___0\): its semantic map holds \[40\], not class indices"):
        write_cache(rows.map(damage, with_indices=True), tmp_path / "sota" / "train")
    assert list((tmp_path / "sota").iterdir()) == []  # the partial folder is removed


def test_only_caches_are_replaced_under_out(samrs_dir, pristine, tmp_path, capsys):
    out = tmp_path / "out"
    foreign = split_folder(out, "sota", "validation")
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine")
    shutil.copytree(pristine, split_folder(out, "sota", "train"))
    argv = ["prepare-training", str(samrs_dir), "--configs", "sota", "--out", str(out), "--workers", "1"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{foreign} exists and is not a training cache" in err and "nothing was deleted" in err
    assert (foreign / "notes.txt").read_text() == "mine"
    shutil.rmtree(foreign)
    (out / "sota" / "validation.tmp").mkdir()  # a partial folder that is not ours either
    assert main(argv) == 1 and "validation.tmp exists and is not a training cache" in capsys.readouterr().err
    (out / "sota" / "validation.tmp").rmdir()
    assert main(argv) == 0  # replaces the cache of train, writes validation
    assert sorted(p.name for p in (out / "sota").iterdir()) == [".lock", "train", "validation"]


def test_too_little_free_space_is_refused_before_writing(samrs_dir, tmp_path, monkeypatch, capsys):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(cache_writer.shutil, "disk_usage", lambda path: usage._replace(free=30000))
    argv = ["prepare-training", str(samrs_dir), "--configs", "sota", "--out", str(tmp_path / "out"), "--workers", "1"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "the training cache needs 0.1 MiB" in err and "--out on another disk" in err
    assert [p.name for p in (tmp_path / "out").rglob("*")] == ["sota", ".lock"]  # only the folder lock


def test_a_disk_that_fills_up_is_one_line_not_sigbus(samrs_dir, tmp_path):
    load_subset(samrs_dir, "sota")  # the child finds this Arrow copy in the datasets cache: it only writes the cache
    out, env = tmp_path / "out", {"HF_DATASETS_CACHE": datasets.config.HF_DATASETS_CACHE}
    result = run_samrs("prepare-training", samrs_dir, "--configs", "sota", "--out", out, file_size_mb=0.02, env=env)
    assert_one_line_error(result, "File too large while writing the training cache", "sota/train.tmp", "--out")
    assert not split_folder(out, "sota", "train.tmp").exists()


def test_killing_prepare_training_ends_its_workers(samrs_dir, tmp_path):
    out = tmp_path / "out"
    process = start_samrs("prepare-training", samrs_dir, "--configs", "sota", "--out", out, "--workers", "2")
    try:
        worker, family = _first_worker(process)
        os.kill(process.pid, signal.SIGSTOP)  # hold the parent while its worker gets ready and waits for work
        _wait_until_idle(worker)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()  # not communicate(): workers left alive would hold its pipes open
        deadline = time.monotonic() + 20
        while _alive(family) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(family), f"still running after their parent was killed: {_alive(family)}"
    finally:
        with suppress(ProcessLookupError):  # whatever is left of its process group
            os.killpg(process.pid, signal.SIGKILL)


def _first_worker(process) -> tuple[psutil.Process, list[psutil.Process]]:
    """The first decode worker (a spawned process) of ``process``, and all its descendants then."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        family = psutil.Process(process.pid).children(recursive=True)
        workers = [p for p in family if "spawn_main" in " ".join(_command(p))]
        if workers:
            return workers[0], family
        time.sleep(0.02)
    stderr = process.communicate(timeout=60)[1]
    raise AssertionError(f"no decode worker started (exit {process.poll()}): {stderr[-2000:]}")


def _wait_until_idle(worker: psutil.Process) -> None:
    """Until ``worker`` sleeps and used no CPU for a second: started up and waiting for work."""
    deadline, used = time.monotonic() + 60, -1.0
    while time.monotonic() < deadline:
        now = sum(worker.cpu_times()[:2])
        if now == used and worker.status() == psutil.STATUS_SLEEPING:
            return
        used = now
        time.sleep(1)
    raise AssertionError(f"worker {worker.pid} still busy after 60 s")


def _command(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _alive(processes: list[psutil.Process]) -> list[int]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process.pid)
        except psutil.NoSuchProcess:
            pass
    return alive
