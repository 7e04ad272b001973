"""The Accelerate loop: overfitting one batch, exact resume, Hub upload, two CPU processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import huggingface_hub
import pytest
import torch
from huggingface_hub.errors import HTTPError
from huggingface_hub.utils import filter_repo_objects

from samrs_hf.cli import main
from samrs_hf.training import SepModel, build_sep_model
from samrs_hf.training import pretrain as pretrain_module
from samrs_hf.training.data import StepBatches, load_samrs, samrs_classes
from samrs_hf.training.pretrain import SepArguments, pretrain

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(samrs_dir, backbone_dir):
    return samrs_dir, backbone_dir


def tiny_args(tiny, output_dir: Path, **overrides) -> SepArguments:
    dataset, backbone = tiny
    settings = dict(
        dataset=str(dataset),
        backbone=str(backbone),
        decoder_channels=16,
        batch_size=6,
        max_steps=4,
        crop_size=32,
        output_dir=str(output_dir),
        checkpointing_steps=2,
        eval_steps=4,
        num_workers=0,
        learning_rate=1e-3,
    )
    return SepArguments(**{**settings, **overrides})


def test_overfits_one_fixed_batch(tiny):
    dataset, backbone = tiny
    configs = ["sota", "sior", "fast"]
    batch = StepBatches(load_samrs(str(dataset), configs, "train"), {"sota": 2, "sior": 1, "fast": 2}, 32, seed=0)[0]
    torch.manual_seed(0)
    model = build_sep_model(str(backbone), "upernet", samrs_classes(configs), decoder_channels=16)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    images = torch.cat([pair[0] for pair in batch.values()])
    labels = torch.cat([pair[1] for pair in batch.values()])
    sizes = {name: len(pair[0]) for name, pair in batch.items()}
    losses = []
    for _ in range(30):
        loss = model(images, labels=labels, head_sizes=sizes).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print("overfit losses:", [round(value, 3) for value in losses])
    assert losses[-1] < 0.25 * losses[0]


def test_resume_gives_the_same_next_losses(tiny, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(pretrain_module, "check_hub_upload", lambda *args: calls.append(("check", *args)))
    monkeypatch.setattr(huggingface_hub, "create_repo", lambda repo_id, **kw: calls.append(("create", repo_id, kw)))
    monkeypatch.setattr(huggingface_hub, "upload_folder", lambda **kw: calls.append(("upload", kw)))
    full = pretrain(tiny_args(tiny, tmp_path / "full", push_to_hub="org/sep-tiny"))
    assert [row["step"] for row in full] == [1, 2, 3, 4]
    assert {"eval/sota/mIoU", "eval/sior/mIoU"} <= set(full[-1])  # FAST has no validation split

    checkpoints = tmp_path / "full" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["step_2", "step_4"]
    shutil.copytree(checkpoints / "step_2", tmp_path / "resumed" / "checkpoints" / "step_2")  # as if killed after 2
    resumed = pretrain(tiny_args(tiny, tmp_path / "resumed", resume_from_checkpoint="latest"))
    assert [row["step"] for row in resumed] == [3, 4]
    for before, after in zip(full[2:], resumed):
        assert after["train/loss"] == before["train/loss"]
        assert after["lr"] == before["lr"]

    out = tmp_path / "full"
    assert calls[0] == ("check", "org/sep-tiny", "--push-to-hub")  # before any work
    assert calls[1] == ("create", "org/sep-tiny", {"exist_ok": True})
    assert calls[2][1]["repo_id"] == "org/sep-tiny" and calls[2][1]["folder_path"] == str(out) and len(calls) == 3
    files = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    uploaded = sorted(filter_repo_objects(files, allow_patterns=calls[2][1]["allow_patterns"]))
    assert uploaded == [
        "README.md",
        "backbones.py",
        "config.json",
        "decoders.py",
        "image_processing.py",
        "model.safetensors",
        "modeling.py",
        "preprocessor_config.json",
        "training_log.json",
    ]
    local = str(tmp_path.parent).encode()  # pytest's base folder: the dataset, the backbone and the output
    assert [name for name in uploaded if local in (out / name).read_bytes()] == []
    card = (out / "README.md").read_text()
    assert "pipeline_tag: image-segmentation" in card and "eval/sota/mIoU" in card
    model = SepModel.from_pretrained(out, use_safetensors=True)
    assert sorted(model.config.heads) == ["fast", "sior", "sota"]


def test_accelerate_launch_two_cpu_processes_bf16_accumulation(tiny, tmp_path):
    """Two real processes (torchrun + gloo): ``accelerate launch --cpu`` alone starts one process unless MPI
    is set up, so the CPU processes are started with ``--multi_gpu`` and ``ACCELERATE_USE_CPU``."""
    dataset, backbone = tiny
    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "bf16",
        "--dynamo_backend",
        "no",
        str(ROOT / "examples" / "pretrain_sep.py"),
        "--dataset",
        str(dataset),
        "--backbone",
        str(backbone),
        "--decoder",
        "unet",
        "--decoder-channels",
        "8",
        "--batch-size",
        "12",
        "--gradient-accumulation-steps",
        "2",
        "--max-steps",
        "2",
        "--crop-size",
        "32",
        "--output-dir",
        str(out),
        "--eval-steps",
        "2",
        "--checkpointing-steps",
        "0",
        "--num-workers",
        "0",
    ]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("per-subset batch sizes: {'sota': 4, 'sior': 2, 'fast': 6}") == 1  # main process only
    assert result.stdout.count(f"saved the model and its card to {out}") == 1
    assert json.loads((out / "config.json").read_text())["decoder"] == "unet"
    card = (out / "README.md").read_text()
    assert "eval/sota/mIoU" in card  # confusion matrices reduced over both processes
    assert "processes: `2`" in card and "mixed precision: `bf16`" in card and "gradient accumulation: `2`" in card


def test_a_failed_upload_is_one_line_naming_the_saved_model(tiny, tmp_path, monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise HTTPError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(pretrain_module, "check_hub_upload", lambda *args: None)  # the network fails later
    monkeypatch.setattr(huggingface_hub, "create_repo", refuse)
    dataset, backbone = tiny
    out = tmp_path / "sep"
    flags = ["--dataset", str(dataset), "--backbone", str(backbone), "--no-pretrained-backbone", "--decoder", "unet"]
    flags += ["--decoder-channels", "8", "--batch-size", "6", "--max-steps", "1", "--crop-size", "32"]
    flags += ["--output-dir", str(out), "--checkpointing-steps", "0", "--eval-steps", "0", "--num-workers", "0"]
    assert main(["pretrain", *flags, "--push-to-hub", "org/sep"]) == 1
    err = capsys.readouterr().err  # the progress bar, then one line
    assert err.endswith(
        f"\nsamrs pretrain: error: uploading {out} to org/sep failed ([Errno 101] Network is unreachable); {out} is "
        f"complete: upload it later with `hf upload org/sep {out} --exclude '*/*'`\n"
    )
    assert "Traceback" not in err
    assert (out / "model.safetensors").is_file() and (out / "preprocessor_config.json").is_file()


def test_samrs_pretrain_command_trains_and_says_where_it_saved(tiny, tmp_path, capsys):
    dataset, backbone = tiny
    out = tmp_path / "cli"
    flags = ["--dataset", str(dataset), "--backbone", str(backbone), "--no_pretrained_backbone", "--decoder", "unet"]
    flags += ["--decoder_channels", "16", "--batch_size", "6", "--max_steps", "1", "--crop_size", "32"]
    flags += ["--output_dir", str(out), "--checkpointing_steps", "0", "--num_workers", "0"]
    assert main(["pretrain", *flags]) == 0
    assert f"saved the model and its card to {out}" in capsys.readouterr().out
    assert SepModel.from_pretrained(out, use_safetensors=True).config.decoder == "unet"
