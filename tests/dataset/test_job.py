"""The resumable job skeleton, the per-subset lock and atomic writes, without SAM (rows from samrs_folders)."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import pytest
from accelerate import PartialState
from datasets import load_dataset
from filelock import UnixFileLock
from samrs_folders import overlap_row, write_samrs

from samrs_hf.cli import main
from samrs_hf.dataset.atomic import write_atomic
from samrs_hf.dataset.card import write_card
from samrs_hf.dataset.job import JobSummary, Row, SubsetJob, prefetch, skip_or_raise
from samrs_hf.dataset.lock import LOCK, LOCK_INFO, FolderInUseError, folder_lock
from samrs_hf.dataset.shards import BUILD_SETTINGS, shard_files
from samrs_hf.dataset.subsets import SUBSETS
from samrs_hf.dataset.writer import SubsetWriter


@dataclass
class CountSummary(JobSummary):
    def plan_counts(self) -> str:
        return "planned"

    def format(self) -> str:
        return "\n".join([f"written: {self.written}", *self.skip_lines()])


class IndexJob(SubsetJob[int]):
    """Rows ``overlap_row(i)`` of SOTA's train split for each planned index; ``bad`` ones cannot be read."""

    def __init__(self, out, indices, bad=(), skip_bad=False, overwrite=False):
        super().__init__(SUBSETS["sota"], out, PartialState(cpu=True), 2, skip_bad, overwrite)
        self.indices, self.bad = indices, set(bad)

    def new_summary(self) -> CountSummary:
        return CountSummary()

    def plan(self, summary):
        return list(self.indices)

    def key(self, item):
        return "train", f"S{item}__64__0___0"

    def settings(self):
        return {"rows": "overlap"}

    def rows(self, items, summary):
        for index in items:
            if index in self.bad:
                skip_or_raise(OSError(f"item {index}: unreadable"), "unreadable", summary, self.skip_bad)
                yield None
            else:
                yield Row("train", partial(overlap_row, index), 2)


def _ids(out) -> list[str]:
    return sorted(load_dataset(str(out), "sota", split="train")["image_id"])


def test_a_job_resumes_where_it_stopped(tmp_path):
    out = tmp_path / "samrs"
    first = IndexJob(out, range(3)).run()
    assert (first.already_done, first.written, first.instances) == (0, 3, 6)
    again = IndexJob(out, range(5)).run()
    assert (again.already_done, again.written) == (3, 2)
    assert _ids(out) == [f"S{i}__64__0___0" for i in range(5)]
    assert sorted(p.name for p in (out / "sota").glob(".*")) == [BUILD_SETTINGS, LOCK]  # released: no info left


def test_a_bad_item_stops_the_job_in_one_line_or_is_skipped_and_named(tmp_path):
    out = tmp_path / "samrs"
    with pytest.raises(ValueError, match=r"^item 1: unreadable; pass --skip-bad to skip it and go on$"):
        IndexJob(out, range(14), bad=range(1, 13)).run()
    summary = IndexJob(out, range(14), bad=range(1, 13), skip_bad=True).run()
    assert summary.skipped == {"unreadable": 12} and summary.already_done + summary.written == 2
    lines = summary.format().splitlines()
    assert lines[1:] == [
        "skipped (--skip-bad), unreadable: 12",
        *(f"  item {i}: unreadable" for i in range(1, 11)),
        "  ... and 2 more",
    ]
    assert _ids(out) == ["S0__64__0___0", "S13__64__0___0"]


def test_nothing_written_says_why_every_item_was_skipped(tmp_path):
    out = tmp_path / "samrs"
    with pytest.raises(ValueError) as refused:
        IndexJob(out, range(3), bad=range(3), skip_bad=True).run()
    assert str(refused.value) == (
        f"no tile of sota was written to {out} (planned, 3 files skipped with --skip-bad: unreadable 3; "
        "the first: item 0: unreadable); fix or replace the skipped files"
    )
    with pytest.raises(ValueError, match=r"\(planned\); check the input and its options$"):
        IndexJob(out, []).run()


def test_a_held_subset_refuses_a_second_run_at_once_and_naming_it(tmp_path):
    out = tmp_path / "samrs"
    IndexJob(out, range(2)).run()
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    with folder_lock(out / "sota"):
        start = time.monotonic()
        with pytest.raises(FolderInUseError) as refused:
            IndexJob(out, range(4), overwrite=True).run()
        assert time.monotonic() - start < 1
    message = str(refused.value)
    assert message.startswith(f"{out / 'sota'} is in use by another run (PID {os.getpid()} on {socket.gethostname()}")
    assert "UTC: " in message and sys.argv[0] in message and "\n" not in message
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    assert IndexJob(out, range(4)).run().written == 2  # the lock was released


def test_a_dead_runs_info_never_blocks_and_a_silent_holder_is_still_refused(tmp_path):
    folder = tmp_path / "sota"
    folder.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = {"pid": dead.pid, "host": socket.gethostname(), "command": "samrs build sota", "started": "then"}
    (folder / LOCK_INFO).write_text(json.dumps(stale))
    with folder_lock(folder):  # the flock is free: the info file alone means nothing
        assert json.loads((folder / LOCK_INFO).read_text())["pid"] == os.getpid()
    assert not (folder / LOCK_INFO).exists() and (folder / LOCK).exists()
    (folder / LOCK_INFO).write_text(json.dumps(stale))
    silent = pytest.raises(FolderInUseError, match=r"in use by another run \(it has not recorded its PID\)")
    with UnixFileLock(folder / LOCK, blocking=False), silent, folder_lock(folder):
        pass
    live = stale | {"pid": os.getpid(), "command": "samrs build sota\n--out x\x1b[2J"}
    (folder / LOCK_INFO).write_text(json.dumps(live))
    one_line = pytest.raises(FolderInUseError, match=r"\(PID \d+ on .*: samrs build sota\?--out x\?\[2J\); wait")
    with UnixFileLock(folder / LOCK, blocking=False), one_line, folder_lock(folder):
        pass


def test_prepare_training_holds_each_configs_lock(tmp_path, capsys):
    dataset, cache = write_samrs(tmp_path / "samrs", {"sota": {"train": 2}}), tmp_path / "cache"
    argv = ["prepare-training", str(dataset), "--configs", "sota", "--out", str(cache), "--workers", "1"]
    with folder_lock(cache / "sota"):
        assert main(argv) == 1
    assert "is in use by another run (PID" in capsys.readouterr().err
    assert sorted(p.name for p in (cache / "sota").iterdir()) == [LOCK]
    assert main(argv) == 0 and (cache / "sota" / "train").is_dir()


@contextmanager
def disk_full_after(size: int):
    """Writes past ``size`` bytes of a file fail with EFBIG (as ENOSPC would), for the block."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def test_a_full_disk_leaves_the_previous_card_and_settings(tmp_path):
    out = write_samrs(tmp_path / "samrs", {"sota": {"train": 2}})
    card = (out / "README.md").read_text()
    write_samrs(out, {"fast": {"train": 1}}, rows_per_shard=1)  # shards a new card would describe
    (out / "README.md").write_text(card)
    with disk_full_after(1024), pytest.raises(OSError):
        write_card(out)
    with disk_full_after(16), pytest.raises(OSError):
        write_atomic(out / "sota" / BUILD_SETTINGS, json.dumps({"prompt": "hbox"}))
    assert (out / "README.md").read_text() == card
    assert json.loads((out / "sota" / BUILD_SETTINGS).read_text()) == {}
    assert not [p for p in out.rglob("*.tmp")]
    write_card(out)
    assert "config_name: fast" in (out / "README.md").read_text()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"prompt": "hb', "Unterminated string"),
        (b"[1, 2]", "a JSON list, not an object"),
        (b"\xff\xfe\x00", "can't decode"),
        (b"[" * 100_000, "recursion"),
    ],
)
def test_a_damaged_settings_file_names_itself_and_the_way_out(tmp_path, content, reason):
    out = write_samrs(tmp_path / "samrs", {"sota": {"train": 2}})
    settings = out / "sota" / BUILD_SETTINGS
    settings.write_bytes(content)
    writer = SubsetWriter(out, SUBSETS["sota"])
    with pytest.raises(ValueError, match=rf"^{settings}: not a settings file of samrs \(.*{reason}.*\); pass --overw"):
        writer.prepare({})
    assert writer.prepare({}, overwrite=True) == set() and shard_files(out / "sota", staged=True) == []


def test_prefetch_keeps_order_and_bounds_lookahead():
    started = []

    def loader(i):
        def load():
            started.append(i)
            return i * i

        return load

    results = []
    for value in prefetch((loader(i) for i in range(10)), workers=2, ahead=3):
        results.append(value)
        assert len(started) <= len(results) + 3
    assert results == [i * i for i in range(10)]
