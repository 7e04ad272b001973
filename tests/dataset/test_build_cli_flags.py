"""``--compile``, ``--image-batch-size`` above 1 and the decoding flags of ``samrs build`` reach the labeler."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from raw_datasets import make_fair1m_root

from samrs_hf.cli import main
from samrs_hf.dataset.build import BuildOptions, build_subset
from samrs_hf.dataset.shards import shard_files
from samrs_hf.labeling.backends import SamBackend
from samrs_hf.labeling.labeler import Decoding, SamLabeler

pytestmark = pytest.mark.slow

DECODING = Decoding(best=True, refine=1, clip_rbox=2.0)


def _rows(folder) -> list[dict]:
    rows = (row for path in shard_files(folder) for row in pq.read_table(path).to_pylist())
    return sorted(rows, key=lambda row: row["image_id"])


def _masks(rows: list[dict]) -> list:
    return [(r["image_id"], r["semantic_map"], [o["segmentation"] for o in r["objects"]]) for r in rows]


def test_compile_image_batches_and_decoding_flags_label_as_the_api_does(tmp_path, tiny_sam_dir, monkeypatch):
    """One CLI build with every flag against a build with a labeler made with the same decoding (no compile, one
    tile per encoder call), and a build without the flags, which differs."""
    raw = make_fair1m_root(tmp_path / "raw")  # four 600 tiles with objects
    batches, compiled = [], []
    encode_batch, compile_parts = SamLabeler.encode_batch, SamBackend.compile
    monkeypatch.setattr(
        SamLabeler, "encode_batch", lambda self, images: batches.append(len(images)) or encode_batch(self, images)
    )
    monkeypatch.setattr(
        SamBackend, "compile", lambda self, backend: compiled.append(backend) or compile_parts(self, backend)
    )
    flags = [
        "--image-batch-size",
        "3",
        "--compile",
        "eager",
        "--multimask",
        "best",
        "--refine",
        "1",
        "--clip-rbox",
        "2",
    ]
    argv = ["build", "fast", "--root", str(raw), "--model", str(tiny_sam_dir), "--split", "train", "--device", "cpu"]
    assert main([*argv, "--out", str(tmp_path / "cli"), "--prompt-batch-size", "2", *flags]) == 0
    assert batches == [3, 1] and compiled == ["eager"]
    settings = json.loads((tmp_path / "cli" / "fast" / ".build.json").read_text())
    assert settings["decoding"] == "best@refine1@clip2"
    assert "`best@refine1@clip2`" in (tmp_path / "cli" / "README.md").read_text()

    labeler = SamLabeler(str(tiny_sam_dir), device="cpu", prompt_batch_size=2, decoding=DECODING)
    build_subset(BuildOptions("fast", raw, tmp_path / "api", splits=("train",), image_batch_size=1), labeler)
    cli, api = _rows(tmp_path / "cli" / "fast"), _rows(tmp_path / "api" / "fast")
    assert _masks(cli) == _masks(api) and len(cli) == 4
    scores = [[o["score"] for o in r["objects"]] for r in (*cli, *api)]
    for compiled_scores, api_scores in zip(scores[:4], scores[4:]):
        assert compiled_scores == pytest.approx(api_scores, abs=1e-5)

    assert main([*argv, "--out", str(tmp_path / "plain")]) == 0
    assert _masks(_rows(tmp_path / "plain" / "fast")) != _masks(cli)
