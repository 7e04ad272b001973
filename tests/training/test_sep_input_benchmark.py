"""The SEP input benchmark runs end to end on small synthetic tiles and reports every way."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "sep_input.py"


@pytest.fixture(scope="module")
def sep_input():
    sys.path.insert(0, str(BENCHMARK.parent))  # as when it runs: its folder's common.py importable
    spec = importlib.util.spec_from_file_location("sep_input", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_tiles_compress_like_aerial_images(sep_input):
    image, label = sep_input.synthetic_tile(0, 256, num_classes=18)
    assert image.shape == (256, 256, 3) and label.shape == (256, 256)
    scene = sep_input.sam_label(0)  # the embedded SAM's map of synthetic scene 0, cropped into the tile
    assert np.array_equal(label, np.where(scene[:256, :256] == 255, 255, scene[:256, :256] % 18))
    png, jpeg = io.BytesIO(), io.BytesIO()
    Image.fromarray(image).save(png, "PNG")
    Image.fromarray(image).save(jpeg, "JPEG", quality=90)
    png_bytes_per_pixel = len(png.getvalue()) / 256**2
    assert 1.0 < png_bytes_per_pixel < 2.5  # a DOTA image (fixtures' P1888.png): 1.64
    assert len(jpeg.getvalue()) < 0.25 * len(png.getvalue())  # smooth: JPEG compresses it well


def test_label_maps_are_a_trained_models_masks(sep_input):
    """The embedded small SAM's map covers the scene's objects much as the drawn masks do (not boxes, not noise)."""
    from samrs_hf.dataset.subsets import SUBSETS
    from samrs_hf.experiments.synthetic import make_scene

    scene = sep_input.sam_label(0)
    truth = make_scene(0).semantic_map(SUBSETS["sota"].classes)
    assert scene.shape == truth.shape == (768, 1024) and len(np.unique(scene)) > 3
    covered, drawn = scene != 255, truth != 255
    assert (covered & drawn).sum() / (covered | drawn).sum() > 0.6


def test_benchmark_reports_every_way(sep_input, tmp_path, capsys):
    out = tmp_path / "result.json"
    argv = ["--make-synthetic", "3", "--tile-size", "128", "--dataset", str(tmp_path / "samrs"), "--configs", "sota"]
    argv += [
        "fast",
        "--json",
        str(out),
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--workers",
        "2",
        "--samples",
        "3",
        "--repeats",
        "1",
        "--streaming",
        "--shuffle-buffer",
        "2",
    ]
    sep_input.main(argv + ["--crop-size", "64"])
    result = json.loads(out.read_text())
    assert result["same_samples"] is True  # the way before and the default way make the same batches
    assert set(result["ways"]) == set(sep_input.WAYS)
    assert result["samples_per_s_per_worker"] == result["ways"]["cache+window"]["samples_per_s_one_worker"] > 0
    assert result["baseline_samples_per_s_per_worker"] == result["ways"]["png+whole-tile"]["samples_per_s_one_worker"]
    assert result["multi_worker"]["workers"] == 2 and result["multi_worker"]["cache+window"]["samples_per_s"] > 0
    assert result["cache"]["bytes_per_tile"] >= 4 * 128 * 128 and result["setup"]["tiles"] == 6
    streamed = result["streaming"]
    assert streamed["samples_per_s_one_worker"] > 0 and streamed["first_batch_s_one_worker"] > 0
    assert streamed["multi_worker"]["workers"] == 1  # one shard per config: one worker reads it
    assert streamed["memory_added_mib"] >= 0
    assert {"cpu", "cores"} <= set(result["machine"]) and result["date"]
    assert "| cache+window |" in capsys.readouterr().out
