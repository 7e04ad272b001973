"""The ``samrs`` command: every subcommand is registered, training commands take the example scripts' flags."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from samrs_folders import write_samrs

from samrs_hf.cli import EXIT_BUG, EXIT_USAGE, build_parser, main

COMMANDS = {
    "demo",
    "tiny-sam",
    "build",
    "import-release",
    "export-release",
    "compare",
    "push",
    "export-coco",
    "stats",
    "viz",
    "ablate",
    "prepare-training",
    "pretrain",
    "finetune",
    "train-sam",
}


def test_every_command_is_registered():
    (subparsers,) = [a for a in build_parser()._actions if a.dest == "command"]
    assert set(subparsers.choices) == COMMANDS


@pytest.mark.parametrize(("command", "flag"), [("pretrain", "--backbone"), ("finetune", "--train-fraction")])
def test_training_commands_take_the_dataclass_flags(command, flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert f"usage: samrs {command}" in printed and flag in printed


def test_module_entry_point_runs():
    result = subprocess.run(
        [sys.executable, "-m", "samrs_hf.cli", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert all(name in result.stdout for name in COMMANDS)


def test_exit_statuses_keep_2_for_argparse_and_3_for_bugs(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["stats", "--no-such-flag"])
    assert exit_info.value.code == EXIT_USAGE == 2
    monkeypatch.setattr("samrs_hf.cli.tiny_sam.run", lambda args: 1 / 0)  # a bug
    assert main(["tiny-sam", "anywhere"]) == EXIT_BUG == 3
    err = capsys.readouterr().err
    assert "ZeroDivisionError" in err and "unexpected error (exit status 3): this is a bug" in err


@pytest.mark.parametrize(
    ("subset", "message"),
    [
        ("dota", "argument subset: 'dota' is a source dataset: the 'sota' subset is made from it; give sota"),
        ("DIOR", "the 'sior' subset is made from it"),
        ("fair1m", "the 'fast' subset is made from it"),
        ("hrsc2016", "HRSC2016 serves the prompt ablation (samrs ablate --root HRSC2016)"),
        ("sotta", "invalid choice: 'sotta' (choose from fast, sior, sota)"),
    ],
)
@pytest.mark.parametrize("command", ["build", "import-release"])
def test_a_source_dataset_named_as_subset_points_to_its_subset(command, subset, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, subset, "--root", "raw", "--out", "samrs"])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def _help(command: str, monkeypatch, capsys) -> str:
    monkeypatch.setenv("COLUMNS", "400")  # no wrapping
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return capsys.readouterr().out


def test_help_shows_each_default_once(monkeypatch, capsys):
    finetune = _help("finetune", monkeypatch, capsys)
    assert "per micro-batch) (default: 8)" in finetune and "centre (eval) crop size (default: 512)" in finetune
    assert "peak learning rate (default: 6e-05)" in finetune
    pretrain = _help("pretrain", monkeypatch, capsys)
    assert "peak learning rate (default: 1e-3 x batch_size / 96)\n" in pretrain
    assert re.search(r"--no-pretrained-backbone\s+turn --pretrained-backbone off\n", pretrain)
    for text in (finetune, pretrain):
        assert "(default: None)" not in text and "(default: )" not in text
        assert not re.search(r"\(default: [^)]*\) \(default:", text)
    assert "the resume granularity (default: 256)" in _help("build", monkeypatch, capsys)


@pytest.fixture(scope="module")
def samrs_dir(tmp_path_factory):
    return write_samrs(tmp_path_factory.mktemp("data") / "samrs", {"sota": {"train": 2}})


@pytest.mark.parametrize(
    ("command", "out", "written"),
    [
        (["stats"], "figs", ["figs/sota_stats.json", "figs/sota_pixels.png", "figs/sota_mask_sizes.png"]),
        (["viz", "--n", "2"], "figs", ["figs/sota_overlays.png"]),
        (["export-coco"], "coco.json", ["coco.json"]),
        (["export-coco"], "figs", ["figs/sota_train.json"]),
    ],
)
def test_existing_outputs_need_overwrite_checked_before_the_work(
    samrs_dir, tmp_path, monkeypatch, capsys, command, out, written
):
    """One rule for stats, viz, export-coco (and compare): files that exist are refused before anything is read."""
    argv = [*command, str(samrs_dir), "--config", "sota", "--out", str(tmp_path / out)]
    assert main(argv) == 0
    assert all((tmp_path / path).is_file() for path in written)
    module = command[0].replace("-", "_")
    monkeypatch.setattr(f"samrs_hf.cli.{module}.load_split", lambda args: pytest.fail("read the dataset"))
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / written[0]}" in err and "already there; pass --overwrite, or choose another --out" in err
    monkeypatch.undo()
    assert main([*argv, "--overwrite"]) == 0


@pytest.mark.parametrize("command", [["stats"], ["viz"], ["export-coco"]])
def test_out_under_a_file_is_one_line_before_the_work(samrs_dir, tmp_path, capsys, command):
    (tmp_path / "taken").write_text("mine")
    argv = [*command, str(samrs_dir), "--config", "sota", "--out", str(tmp_path / "taken" / "figs.json")]
    assert main(argv) == 1
    assert f"--out: {tmp_path / 'taken'} is a file, not a folder" in capsys.readouterr().err
