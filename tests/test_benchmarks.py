"""The benchmarks run end to end (tiny SAM) and report what their README tables show."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

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
    assert {r["way"] for r in result["ratios"]} == {"a@2", "a@1"}
    assert all({"b/a", "c/a", "a/d"} <= set(r) for r in result["ratios"])
    assert [a["differing_pixels"] for a in result["agreement_with_c"]] == [0, 0]
    assert "| way | boxes |" in capsys.readouterr().out


@pytest.mark.slow
def test_build_benchmark_times_the_build_against_sam_alone(tmp_path, monkeypatch):
    out = tmp_path / "build.json"
    result = load("build_throughput", monkeypatch).main(
        ["--size", "1100", "--objects", "40", "--repeats", "1", "--json", str(out)]
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
