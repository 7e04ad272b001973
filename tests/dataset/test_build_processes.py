"""A build killed with SIGKILL resumes to the same rows; two accelerate processes give the same rows as one;
a second build into a subset being built fails at once and changes nothing.

``accelerate launch --cpu`` starts several processes only through MPI, so the two CPU processes
are started with accelerate's torchrun launcher (``--multi_gpu``) and ``--device cpu``, which
makes the ranks join a gloo process group.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from huggingface_hub import DatasetCard
from isolated import assert_one_line_error, run_samrs
from pycocotools import mask as mask_utils
from raw_datasets import make_fair1m_root

from samrs_hf.dataset.build import BuildOptions, build_subset
from samrs_hf.dataset.lock import LOCK_INFO, folder_lock
from samrs_hf.dataset.shards import SHARD_RE, shard_files

pytestmark = pytest.mark.slow
TILES = 3  # a 1600x600 FAIR1M scene: 600-pixel tiles at x = 0, 500, 1000


def _build_args(root: Path, out: Path, model: Path, rows_per_shard: int) -> list[str]:
    return ["build", "fast", "--root", str(root), "--out", str(out), "--model", str(model), "--split", "train",
            "--device", "cpu", "--rows-per-shard", str(rows_per_shard)]  # fmt: skip


def _options(root: Path, out: Path, model: Path, rows_per_shard: int) -> BuildOptions:
    return BuildOptions("fast", root, out, str(model), splits=("train",), device="cpu", rows_per_shard=rows_per_shard)


def rows(out: Path) -> list[dict]:
    """Every row of the fast subset, whatever the shard layout, sorted by (split, image_id)."""
    found = []
    for path in shard_files(out / "fast"):
        split = SHARD_RE.match(path.name)["split"]
        found += [(split, row) for row in pq.read_table(path).to_pylist()]
    return [row for _, row in sorted(found, key=lambda item: (item[0], item[1]["image_id"]))]


def _scores(found: list[dict]) -> list[float]:
    return [obj["score"] for row in found for obj in row["objects"]]


def _assert_same_up_to_float_sums(found: list[dict], expected: list[dict]) -> None:
    """Rows equal but for SAM's scores and masks, which must overlap at IoU >= 0.99: the tiny random model's
    logits sit near 0, so float sums over another thread count flip a few pixels."""

    def without_labels(row: dict) -> dict:
        drop = ("score", "segmentation", "area")
        objects = [{k: v for k, v in o.items() if k not in drop} for o in row["objects"]]
        return {k: v for k, v in row.items() if k != "semantic_map"} | {"objects": objects}

    assert [without_labels(row) for row in found] == [without_labels(row) for row in expected]
    pairs = [(a, b) for x, y in zip(found, expected) for a, b in zip(x["objects"], y["objects"])]
    ious = mask_utils.iou(
        [a["segmentation"] for a, _ in pairs], [b["segmentation"] for _, b in pairs], [0] * len(pairs)
    )
    assert min(float(ious[i, i]) for i in range(len(pairs))) >= 0.99


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return make_fair1m_root(tmp_path_factory.mktemp("raw"), width=1600, height=600)


@pytest.fixture(scope="module")
def reference(raw, tmp_path_factory, tiny_sam_dir) -> list[dict]:
    """Rows of an uninterrupted single-process build."""
    out = tmp_path_factory.mktemp("reference") / "samrs"
    summary = build_subset(_options(raw, out, tiny_sam_dir, rows_per_shard=2))
    assert summary.written == TILES
    return rows(out)


def test_killed_build_resumes_to_the_same_rows(raw, reference, tmp_path, tiny_sam_dir):
    out = tmp_path / "samrs"
    command = [sys.executable, "-m", "samrs_hf.cli", *_build_args(raw, out, tiny_sam_dir, rows_per_shard=1)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not shard_files(out / "fast", staged=True) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    committed = shard_files(out / "fast", staged=True)
    assert 1 <= len(committed) < TILES, f"the build was not killed mid-way ({len(committed)} shards)"
    assert not (out / "README.md").exists() and shard_files(out / "fast") == []  # nothing loads as complete
    assert json.loads((out / "fast" / LOCK_INFO).read_text())["pid"] == process.pid  # left behind: it means nothing
    summary = build_subset(_options(raw, out, tiny_sam_dir, rows_per_shard=1))  # takes the lock the kernel freed
    assert (summary.already_done, summary.written) == (len(committed), TILES - len(committed))
    assert rows(out) == reference


def _files(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_a_second_build_into_a_subset_being_built_fails_at_once_and_changes_nothing(
    raw, reference, tmp_path, tiny_sam_dir
):
    out = tmp_path / "samrs"
    command = [sys.executable, "-m", "samrs_hf.cli", *_build_args(raw, out, tiny_sam_dir, rows_per_shard=1)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "fast" / LOCK_INFO).exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGSTOP)  # it holds the lock, and stands still while the second run tries
        before = _files(out)
        other = _build_args(raw, out, tiny_sam_dir, rows_per_shard=2) + ["--prompt", "hbox", "--overwrite"]
        second = run_samrs(*other, timeout=90)  # a second run waiting for the lock would time out here
        after = _files(out)
        os.kill(first.pid, signal.SIGCONT)
        first_err = first.communicate(timeout=120)[1]
    finally:
        first.kill()
    assert_one_line_error(
        second,
        f"{out / 'fast'} is in use by another run (PID {first.pid} on {socket.gethostname()}, started 20",
        "build fast --root",
        "--rows-per-shard 1",
    )
    assert after == before
    assert first.returncode == 0, first_err[-3000:]
    assert rows(out) == reference  # all TILES rows, every one labelled with the first run's prompt
    assert json.loads((out / "fast" / ".build.json").read_text())["prompt"] == "rhbox"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_accelerate_processes_give_the_same_rows(raw, reference, tmp_path, tiny_sam_dir):
    out = tmp_path / "samrs"
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [
        str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
        "-m", "samrs_hf.cli", *_build_args(raw, out, tiny_sam_dir, rows_per_shard=1),
    ]  # fmt: skip
    with folder_lock(out / "fast"):  # another run holds the subset: both ranks stop at once
        refused = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and refused.stderr.count(f"{out / 'fast'} is in use by another run (PID") == 2
    assert shard_files(out / "fast", staged=True) == []
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = {SHARD_RE.match(p.name)["rank"] for p in shard_files(out / "fast")}
    assert ranks == {"00", "01"}
    _assert_same_up_to_float_sums(rows(out), reference)  # torchrun runs each rank with one thread
    assert _scores(rows(out)) == pytest.approx(_scores(reference), rel=1e-5, abs=1e-7)
    assert result.stdout.count("built fast") == 1 and f"tiles written: {TILES}" in result.stdout
    assert [c["config_name"] for c in DatasetCard.load(out / "README.md").data.configs] == ["fast"]
