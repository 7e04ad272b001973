"""A build killed with SIGKILL resumes to the same rows; two accelerate processes give the same rows as one.

``accelerate launch --cpu`` starts several processes only through MPI, so the two CPU processes
are started with accelerate's torchrun launcher (``--multi_gpu``) and ``--device cpu``, which
makes the ranks join a gloo process group.
"""

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
from raw_datasets import make_fair1m_root

from samrs_hf.dataset.build import BuildOptions, build_subset
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


def _without_scores(found: list[dict]) -> list[dict]:
    return [row | {"objects": [{k: v for k, v in o.items() if k != "score"} for o in row["objects"]]} for row in found]


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return make_fair1m_root(tmp_path_factory.mktemp("raw"), width=1600, height=600)


@pytest.fixture(scope="module")
def reference(raw, tmp_path_factory, tiny_sam_dir) -> list[dict]:
    """Rows of an uninterrupted single-process build."""
    out = tmp_path_factory.mktemp("reference") / "samrs"
    summary = build_subset(_options(raw, out, tiny_sam_dir, rows_per_shard=2))
    assert summary.tiles_written == TILES
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
    summary = build_subset(_options(raw, out, tiny_sam_dir, rows_per_shard=1))
    assert (summary.tiles_already_done, summary.tiles_written) == (len(committed), TILES - len(committed))
    assert rows(out) == reference


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
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = {SHARD_RE.match(p.name)["rank"] for p in shard_files(out / "fast")}
    assert ranks == {"00", "01"}
    # torchrun runs each rank with one thread: SAM's float sums may differ in the last bits
    assert _without_scores(rows(out)) == _without_scores(reference)
    assert _scores(rows(out)) == pytest.approx(_scores(reference), rel=1e-5, abs=1e-7)
    assert result.stdout.count("built fast") == 1 and f"tiles written: {TILES}" in result.stdout
    assert [c["config_name"] for c in DatasetCard.load(out / "README.md").data.configs] == ["fast"]
