"""The ``samrs`` command: every subcommand is registered, training commands take the example scripts' flags."""

from __future__ import annotations

import subprocess
import sys

import pytest

from samrs_hf.cli import build_parser, main

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
