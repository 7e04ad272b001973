"""A new subset is its recipe and its card template: every list of subsets is derived from the recipes."""

from __future__ import annotations

from dataclasses import replace

from samrs_hf.cli import build_parser
from samrs_hf.dataset import subsets
from samrs_hf.dataset.release.format import find_layout
from samrs_hf.training.pretrain import SepArguments


def test_a_new_recipe_reaches_every_list(monkeypatch, tmp_path):
    recipe = replace(subsets.SUBSETS["sota"], name="sota3")
    monkeypatch.setitem(subsets.SUBSETS, "sota3", recipe)
    monkeypatch.setitem(subsets.RECIPES, "sota3", recipe)
    parse = build_parser().parse_args
    for command in ("build", "import-release"):
        assert parse([command, "sota3", "--root", "raw", "--out", "samrs"]).subset == "sota3"
    for command in ("export-release", "compare", "stats"):
        dataset = ["samrs", "other"] if command == "compare" else ["samrs"]
        assert parse([command, *dataset, "--config", "sota3", "--out", "out"]).config == "sota3"
    assert parse(["prepare-training", "samrs"]).configs == list(subsets.SUBSETS)
    assert SepArguments().configs == list(subsets.SUBSETS)
    (tmp_path / "images").mkdir()
    (tmp_path / "hbox_segs" / "gray").mkdir(parents=True)
    (tmp_path / "hbox_segs" / "ins").mkdir()
    (tmp_path / "train.txt").write_text("P0001\n")
    assert find_layout(tmp_path, "sota3").gray == tmp_path / "hbox_segs" / "gray"  # the recipe's release format
