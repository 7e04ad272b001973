"""The benchmarks run end to end (tiny SAM) and report what their README tables show."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str, monkeypatch):
    """The benchmark script ``name`` as a module (its folder on ``sys.path``, as when it is run)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_label_benchmark_writes_rows_ratios_and_agreement(tmp_path, capsys, monkeypatch):
    out = tmp_path / "results.json"
    argv = ["--quick", "--boxes", "3", "--size", "96", "--repeats", "1", "--naive-boxes", "1"]
    load("label_throughput", monkeypatch).main(
        argv + ["--agreement-boxes", "3", "--prompt-batch-size", "2", "1", "--out", str(out)]
    )
    result = json.loads(out.read_text())
    assert {r["way"] for r in result["rows"]} == {"a@2", "a@1", "b", "c", "d"}
    naive = next(r for r in result["rows"] if r["way"] == "b")
    assert naive["extrapolated"] and naive["measured_boxes"] == 1
    encoder = next(r["seconds_per_image"] for r in result["rows"] if r["way"] == "d")
    for row in result["rows"]:  # ms / prompt: the time less the way's encodings (b: one per box), per box
        encodings = {"b": 3, "d": None}.get(row["way"], 1)
        expected = None if encodings is None else 1000 * (row["seconds_per_image"] - encodings * encoder) / 3
        assert row["ms_per_prompt_decode_post"] == pytest.approx(expected)
    assert {r["way"] for r in result["ratios"]} == {"a@2", "a@1"}
    assert all({"b/a", "c/a", "a/d"} <= set(r) for r in result["ratios"])
    assert [a["differing_pixels"] for a in result["agreement_with_c"]] == [0, 0]
    assert "| way | boxes |" in capsys.readouterr().out


def test_the_cpu_prompt_chunk_default_is_the_fastest_in_the_committed_results():
    """``PROMPT_BATCH_SIZES["cpu"]`` is chosen from ``results_cpu.json``: the fastest labeler chunk from 20 boxes up."""
    from samrs_hf.labeling.labeler import default_prompt_batch_size

    rows = json.loads((BENCHMARKS / "results_cpu.json").read_text())["rows"]
    chunk = f"a@{default_prompt_batch_size('cpu')}"
    for boxes in (20, 100, 600):
        labeler = {r["way"]: r["seconds_per_image"] for r in rows if r["boxes"] == boxes and r["way"].startswith("a@")}
        assert labeler[chunk] == min(labeler.values()), (boxes, labeler)


def test_png_levels_benchmark_times_both_levels_of_every_fixture_image(tmp_path, monkeypatch, fixtures_dir):
    out = tmp_path / "png.json"
    result = load("png_levels", monkeypatch).main(
        ["--fixtures", str(fixtures_dir), "--repeats", "1", "--json", str(out)]
    )
    assert json.loads(out.read_text()) == result and len(result["rows"]) == 4
    for row in result["rows"]:  # level 6 never makes a bigger file than level 1
        assert row["level_1_bytes"] >= row["level_6_bytes"] > 0 and row["level_1_ms"] > 0
        assert row["time_ratio"] == row["level_6_ms"] / row["level_1_ms"]


@pytest.mark.slow
@pytest.mark.parametrize("scene", ["synthetic", "dense"])
def test_build_benchmark_times_the_build_against_sam_alone(tmp_path, monkeypatch, scene):
    out = tmp_path / "build.json"
    result = load("build_throughput", monkeypatch).main(
        ["--scene", scene, "--size", "1100", "--objects", "40", "--repeats", "1", "--json", str(out)]
    )
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert result["settings"]["tiles"] == 4 and result["settings"]["prompts"] > 40  # objects on tile overlaps
    assert 0 < result["sam_seconds"] < result["build_seconds"] and result["instances_per_s"] > 0
    assert result["overhead_ms_per_instance"] == pytest.approx(
        1000 * (result["build_seconds"] - result["sam_seconds"]) / result["settings"]["prompts"], rel=0.2
    )
    assert set(result["per_mask_ms"]) == {
        f"{kind}, {way}" for kind in ("compact (20x10 px object)", "dense (periodic, half the tile)")
        for way in ("windowed", "full size")
    }  # fmt: skip


def test_box_shaped_masks_fill_the_prompt_box(tmp_path, monkeypatch, tiny_sam_dir):
    from samrs_hf.labeling.labeler import SamLabeler
    from samrs_hf.sources.base import object_from_polygon

    bench = load("build_throughput", monkeypatch)
    labeler = SamLabeler(str(tiny_sam_dir), "cpu", prompt_batch_size=2)
    image = np.zeros((200, 400, 3), dtype=np.uint8)
    boxes = [(40, 20, 120, 60), (200, 100, 360, 180), (0, 0, 400, 200)]
    objects = [object_from_polygon("ship", [x0, y0, x1, y0, x1, y1, x0, y1]) for x0, y0, x1, y1 in boxes]
    with bench.box_shaped_masks(True):
        labeled = list(labeler.label_objects(image, objects, "hbox"))
    for item, (x0, y0, x1, y1) in zip(labeled, boxes, strict=True):
        full = item.window.full()
        rows, cols = np.flatnonzero(full.any(1)), np.flatnonzero(full.any(0))
        assert abs(rows[0] - y0) <= 2 and abs(rows[-1] + 1 - y1) <= 2, (rows[[0, -1]], (y0, y1))
        assert abs(cols[0] - x0) <= 2 and abs(cols[-1] + 1 - x1) <= 2, (cols[[0, -1]], (x0, x1))
        assert full[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].all()
    masks = list(labeler.label_objects(image, objects, "hbox"))
    assert not all(np.array_equal(a.window.full(), b.window.full()) for a, b in zip(masks, labeled))  # restored


def test_release_pickle_benchmark_times_every_protocol(tmp_path, monkeypatch):
    out = tmp_path / "pickles.json"
    result = load("release_pickles", monkeypatch).main(["--instances", "5", "--repeats", "1", "--json", str(out)])
    expected = [(subset, protocol) for subset in ("sota", "fast") for protocol in range(6)]
    assert [(r["subset"], r["protocol"]) for r in result["rows"]] == expected
    assert all(r["pickle_loads_ms"] > 0 and r["safe_load_ms"] > 0 and r["checks_ms"] > 0 for r in result["rows"])
    assert json.loads(out.read_text())["rows"] == result["rows"]


def test_integrity_benchmark_reports_each_check(tmp_path, monkeypatch):
    out = tmp_path / "integrity.json"
    result = load("integrity_checks", monkeypatch).main(
        ["--tiles", "2", "--tile-size", "64", "--repeats", "1", "--json", str(out)]
    )
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert set(result["overhead_percent"]) == {"parquet write", "parquet read", "datasets load"}
    assert len(result["seconds"]) == 9 and all(seconds > 0 for seconds in result["seconds"].values())


@pytest.mark.slow
def test_quick_gpu_benchmark_runs_every_section_and_reports_the_ratios(tmp_path, monkeypatch):
    out = tmp_path / "gpu.json"
    result = load("gpu", monkeypatch).main(["--quick", "--json", str(out)])
    assert json.loads(out.read_text())["ratios"] == json.loads(json.dumps(result["ratios"]))
    assert not [name for name in ("models", "labelling", "build", "sep", "input") if "error" in result[name]]
    measured = result["labelling"]["sam-vit-h"]["float32"]  # a tiny SAM in --quick
    assert set(measured["encoder_tiles_per_s"]) == {"1", "2"} and len(measured["seconds_per_tile"]) == 2
    assert measured["encoder_flops_per_tile"] > 0
    assert result["ratios"]["build_over_sam_alone"] == result["build"]["build_over_sam"] > 0
    assert result["ratios"]["vit_h_bf16_encoder_share_of_peak"] is None  # no GPU peak on a CPU
    ratios = result["ratios"]["input_over_appetite"]
    assert {key.split(" / ")[0] for key in ratios} == {
        f"{way}, {n} workers" for way in ("cache+window", "png+window", "streaming") for n in (1, 2)
    }
    assert all(row["ratio"] > 0 and row["workers_needed"] >= 1 for row in ratios.values())


def test_gpu_benchmark_sections_record_their_failure_and_the_rest_runs(tmp_path, monkeypatch):
    gpu = load("gpu", monkeypatch)
    monkeypatch.setattr(gpu, "sep_train", lambda *args: 1 / 0)
    result = gpu.main(["--quick", "--sections", "sep", "input", "--json", str(tmp_path / "gpu.json")])
    assert result["sep"]["error"] == "ZeroDivisionError: division by zero" and "labelling" not in result
    assert result["input"]["samples_per_s"]["1"]["streaming"] > 0 and result["ratios"]["input_over_appetite"] == {}
    results: dict = {}
    with gpu.section(results, "slow", 1):
        time.sleep(3)
    assert results["slow"]["error"] == "OverBudget: over its 1 s budget" and results["slow"]["seconds"] < 2.5


def test_stream_layout_benchmark_reads_each_row_group_size(tmp_path, monkeypatch):
    out = tmp_path / "layout.json"
    argv = ["--tiles", "6", "--tile-size", "64", "--row-groups", "2", "6", "--json", str(out)]
    result = load("stream_layout", monkeypatch).main(argv)
    assert json.loads(out.read_text()) == result
    assert [(size["row_group_rows"], size["shards"]) for size in result["sizes"]] == [(2, 3), (6, 1)]
    assert all(size["rows_per_s_after_the_first"] > 0 and size["resume_first_row_s"] > 0 for size in result["sizes"])


def test_suite_timer_runs_pytest_and_records_its_summary(tmp_path, monkeypatch):
    out = tmp_path / "suite.json"
    result = load("suite_time", monkeypatch).main(["-q", "tests/test_fixtures_location.py", "--json", str(out)])
    assert json.loads(out.read_text()) == result and result["exit_status"] == 0
    assert result["summary"].startswith("2 passed") and result["cpu_minutes"] >= 0 and "date" in result["machine"]


def test_the_readme_smoke_test_is_the_command_the_benchmark_times(monkeypatch):
    """The README's fine-tuning smoke test is ``finetune_smoke.smoke_command``, and its flags parse as meant (the
    command itself runs in tests/training/test_finetune.py's way, on the fixtures)."""
    from transformers import HfArgumentParser

    from samrs_hf.training.finetune import FinetuneArguments

    smoke = load("finetune_smoke", monkeypatch)
    command = smoke.smoke_command("potsdam", "/data/potsdam", "sep-r50", "finetune-smoke")
    readme = " ".join((BENCHMARKS.parent / "README.md").read_text().replace("\\\n", " ").split())
    assert " ".join(["samrs", *command]) in readme
    (options,) = HfArgumentParser(FinetuneArguments).parse_args_into_dataclasses(command[1:])
    assert (options.max_steps, options.batch_size, options.crop_size, options.eval_limit) == (3, 2, 128, 4)
    assert (options.init, options.num_workers, options.checkpointing_steps) == ("sep-r50", 0, 0)
