"""Training mistakes end at once with one ``error:`` line naming the flag and the fix, exit status 1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from samrs_hf.checkpoints import is_hub_id
from samrs_hf.cli import main
from samrs_hf.cli.training_runner import run_training
from samrs_hf.training.finetune import FinetuneArguments, finetune
from samrs_hf.training.pretrain import SepArguments, pretrain

ROOT = Path(__file__).resolve().parents[2]
PRETRAIN = str(ROOT / "examples" / "pretrain_sep.py")
OFFLINE_MESSAGE = (
    "pretrain_sep.py: error: cannot load the ImageNet weights of resnet-50 (microsoft/resnet-50): offline and not "
    "cached; pass --no-pretrained-backbone to start from random weights, or --backbone PATH to a local folder"
)
SLACK_S = 12  # beyond the imports (~5 s here, more on a busy machine); the Hub's retries alone take 1+2+4+8+8 = 23 s
UNREACHABLE = "http://127.0.0.1:9"  # nothing listens there: connections are refused at once


def fake_hub_cache(hf_home: Path, repo_id: str, folder: Path) -> None:
    """``folder``'s files as the Hub cache stores a download of ``repo_id`` (refs/main -> snapshots/COMMIT/)."""
    repo = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for file in folder.iterdir():
        (snapshot / file.name).write_bytes(file.read_bytes())


def run_side_by_side(runs: dict[str, tuple[list[str], dict[str, str]]], cwd: Path) -> dict[str, tuple]:
    """Run ``python ARGS`` with ``ENV`` added for each run at once: name -> (stdout, stderr, exit status,
    seconds from start to exit)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HF_")} | {"OMP_NUM_THREADS": "1"}
    start = time.monotonic()
    processes = {
        name: subprocess.Popen(
            [sys.executable, *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=base | env,
            cwd=cwd,
        )
        for name, (flags, env) in runs.items()
    }
    ended: dict[str, float] = {}
    while len(ended) < len(processes) and time.monotonic() - start < 120:
        ended.update(
            {n: time.monotonic() - start for n, p in processes.items() if n not in ended and p.poll() is not None}
        )
        time.sleep(0.05)
    return {name: (*p.communicate(timeout=1), p.returncode, ended.get(name)) for name, p in processes.items()}


def test_weights_offline_fail_at_once_and_cached_ones_load_while_the_hub_is_unreachable(
    samrs_dir, backbone_dir, tmp_path
):
    """Two runs side by side: offline (HF_HUB_OFFLINE) with an empty cache, and an unreachable Hub (not
    offline mode) with the backbone in the cache, which must load from it without the Hub's retries."""
    cached_home = tmp_path / "cached"
    fake_hub_cache(cached_home, "org/tiny-resnet", backbone_dir)
    small = ["--decoder-channels", "8", "--batch-size", "6", "--max-steps", "1", "--crop-size", "32"]
    small += ["--eval-steps", "0", "--checkpointing-steps", "0", "--num-workers", "0"]
    dataset = [PRETRAIN, "--dataset", str(samrs_dir)]
    runs = {
        "offline": (dataset, {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "empty")}),
        "cached": (
            [*dataset, "--backbone", "org/tiny-resnet", "--output-dir", str(tmp_path / "out"), *small],
            {"HF_ENDPOINT": UNREACHABLE, "HF_HOME": str(cached_home)},
        ),
        "imports only": (["-c", "import samrs_hf.training.pretrain"], {}),
    }
    results = run_side_by_side(runs, tmp_path)
    print({name: f"{result[3]:.1f} s" for name, result in results.items()})
    fast = results["imports only"][3] + SLACK_S

    stdout, stderr, code, seconds = results["offline"]
    assert code == 1 and stderr.strip() == OFFLINE_MESSAGE and stderr.count("\n") == 1  # no traceback
    assert seconds < fast
    stdout, stderr, code, seconds = results["cached"]
    assert code == 0, stderr[-3000:]
    assert stdout.count(f"saved the model and its card to {tmp_path / 'out'}") == 1
    assert seconds < fast


def test_unreachable_hub_fails_at_once(monkeypatch):
    from huggingface_hub import constants

    from samrs_hf.training.checks import require_backbone

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", UNREACHABLE)
    start = time.monotonic()
    with pytest.raises(
        OSError, match=f"cannot load the backbone org/nowhere-cached: {UNREACHABLE} unreachable and not"
    ):
        require_backbone("org/nowhere-cached", pretrained=True)
    assert time.monotonic() - start < 2


def pretrain_flags(samrs_dir, *flags: str) -> list[str]:
    return ["--dataset", str(samrs_dir), "--no-pretrained-backbone", "--num-workers", "0", *flags]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--configs", "sota", "siro"], "--configs: unknown SAMRS config 'siro' (did you mean 'sior'?); choose from"),
        (["--backbone", "resnet50"], "--backbone: unknown backbone 'resnet50' (did you mean 'resnet-50'?); give one"),
        (["--backbone", "./no/such/folder"], "--backbone: './no/such/folder' is no model folder"),
        (["--decoder", "uper-net"], "--decoder: unknown decoder 'uper-net' (did you mean 'upernet'?)"),
        (["--batch-size", "3", "--gradient-accumulation-steps", "2"], "use --batch-size 4 or more"),
        (["--decoder", "unet", "--batch-size", "1", "--gradient-accumulation-steps", "2"], "use --batch-size 2 or"),
        (["--max-steps", "0"], "--max-steps must be at least 1"),
    ],
)
def test_pretrain_option_mistakes(samrs_dir, flags, message, capsys):
    assert run_training(SepArguments, pretrain, prog="pretrain", argv=pretrain_flags(samrs_dir, *flags)) == 1
    err = capsys.readouterr().err
    assert err.startswith("pretrain: error: --") and message in err and err.count("\n") == 1


def test_missing_dataset_folder(tmp_path, capsys):
    argv = ["--dataset", str(tmp_path / "samrs"), "--no-pretrained-backbone"]
    assert run_training(SepArguments, pretrain, prog="pretrain", argv=argv) == 1
    assert f"--dataset: '{tmp_path / 'samrs'}' is no folder here; give the SAMRS folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--dataset", "postdam"], "--dataset: unknown fine-tuning dataset 'postdam' (did you mean 'potsdam'?)"),
        (["--init", "sep"], "--root is required: give the dataset folder"),
        (["--root", "/no/such/potsdam", "--init", "sep"], "--root: '/no/such/potsdam' is no folder here"),
        (["--root", "."], "--init is required: give a SEP model folder"),
        (["--root", ".", "--init", "./no-model"], "--init: './no-model' is no folder here"),
        (["--root", ".", "--init", "org/sep", "--train-fraction", "0"], "--train-fraction must be in (0, 1]"),
    ],
)
def test_finetune_option_mistakes(flags, message, capsys):
    assert run_training(FinetuneArguments, finetune, prog="finetune", argv=flags) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"finetune: error: {message}") and err.count("\n") == 1


def test_finetune_batch_too_small_for_upernet(tmp_path, backbone_dir, capsys):
    from samrs_hf.training import build_sep_model

    build_sep_model(str(backbone_dir), "upernet", {"sota": ["a", "b"]}, decoder_channels=8).save_pretrained(tmp_path)
    argv = ["--root", str(tmp_path), "--init", str(tmp_path), "--batch-size", "1"]
    assert run_training(FinetuneArguments, finetune, prog="finetune", argv=argv) == 1
    assert "the upernet decoder needs at least 2 sample(s) per micro-batch" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["pretrain", "finetune"])
def test_push_to_hub_offline_fails_before_any_work(samrs_dir, tmp_path, monkeypatch, capsys, command):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "is_offline_mode", lambda: True)
    out = tmp_path / "out"
    flags = ["--root", str(tmp_path), "--init", "org/sep"] if command == "finetune" else pretrain_flags(samrs_dir)
    assert main([command, *flags, "--output-dir", str(out), "--push-to-hub", "org/sep"]) == 1
    assert capsys.readouterr().err == (
        f"samrs {command}: error: --push-to-hub org/sep: cannot upload in offline mode; unset HF_HUB_OFFLINE\n"
    )
    assert not out.exists()


def test_samrs_pretrain_command_says_one_line(samrs_dir, capsys):
    assert main(["pretrain", *pretrain_flags(samrs_dir, "--configs", "siro")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("samrs pretrain: error: --configs: unknown SAMRS config 'siro'") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [("microsoft/resnet-50", True), ("samrs", False), ("./a/b", False), ("/data/samrs", False), ("a/b/c", False)],
)
def test_hub_ids(value, expected):
    assert is_hub_id(value) is expected


def test_folders_and_random_short_names_need_no_hub(backbone_dir, monkeypatch):
    from samrs_hf import checkpoints
    from samrs_hf.training import checks

    monkeypatch.setattr(checkpoints, "hub_reachable", lambda repo_id: pytest.fail(f"asked the Hub for {repo_id}"))
    checks.require_backbone(str(backbone_dir), pretrained=True)
    checks.require_backbone("resnet-50", pretrained=False)
