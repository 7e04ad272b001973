"""The throughput benchmark runs end to end (tiny SAM) and reports all ways, ratios and agreement."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "label_throughput.py"


def test_quick_benchmark_writes_rows_ratios_and_agreement(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("label_throughput", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "results.json"
    module.main(
        [
            "--quick",
            "--boxes",
            "3",
            "--size",
            "96",
            "--repeats",
            "1",
            "--naive-boxes",
            "1",
        ]
        + ["--agreement-boxes", "3", "--prompt-batch-size", "2", "1", "--out", str(out)]
    )
    result = json.loads(out.read_text())
    assert {r["way"] for r in result["rows"]} == {"a@2", "a@1", "b", "c", "d"}
    naive = next(r for r in result["rows"] if r["way"] == "b")
    assert naive["extrapolated"] and naive["measured_boxes"] == 1
    assert {r["way"] for r in result["ratios"]} == {"a@2", "a@1"}
    assert all({"b/a", "c/a", "a/d"} <= set(r) for r in result["ratios"])
    assert [a["differing_pixels"] for a in result["agreement_with_c"]] == [0, 0]
    assert "| way | boxes |" in capsys.readouterr().out
