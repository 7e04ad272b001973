"""``samrs train-sam``: a few steps learn, resume is exact, the result loads strictly and labels, for every family."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate import Accelerator
from PIL import Image

from samrs_hf.cli import main
from samrs_hf.experiments.synthetic import make_scene, write_hrsc_scenes
from samrs_hf.experiments.tiny_sam import save_sam, save_tiny_sam, small_sam_config
from samrs_hf.labeling.backends import load_backend
from samrs_hf.labeling.labeler import SamLabeler
from samrs_hf.labeling.sam_frame import SamFrame
from samrs_hf.records import SourceObject
from samrs_hf.samtuning.prepare import TensorCache, grid_targets
from samrs_hf.samtuning.prompts import jitter_object
from samrs_hf.samtuning.sources import MaskedImage
from samrs_hf.samtuning.trainer import SamTuner, TrainSamArguments


@pytest.fixture(scope="module")
def quick_sam(tmp_path_factory):
    """A narrow SAM in a 256-pixel frame (16x16 embeddings): the training tests' steps take a fraction of a second."""
    return save_sam(
        tmp_path_factory.mktemp("quick-sam"), small_sam_config(image_size=256, hidden_size=32, num_layers=2)
    )


class Squares:
    """Small images with bright squares on a dark ground, and their masks."""

    description = "squares"

    def __init__(self, count: int = 2):
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> MaskedImage:
        rng = np.random.default_rng(index)
        pixels = rng.integers(0, 40, (96, 128, 3), dtype=np.uint8)
        objects, masks = [], []
        for k in range(3):
            x, y = 10 + 38 * k + int(rng.integers(0, 6)), int(rng.integers(10, 60))
            mask = np.zeros((96, 128), dtype=bool)
            mask[y : y + 24, x : x + 24] = True
            pixels[mask] = 230
            objects.append(SourceObject("square", np.array([x, y, x + 24, y + 24], dtype=float)))
            masks.append(mask)
        return MaskedImage(f"squares_{index}", Image.fromarray(pixels), objects, masks)


def test_grid_targets_follow_the_frame():
    mask = np.zeros((96, 128), dtype=bool)
    mask[0:48, 64:128] = True  # the top right quarter
    targets = grid_targets([mask], SamFrame(longest_edge=64, pad_size=(64, 64), mask_size=(16, 16)))
    expected = torch.zeros(16, 16, dtype=torch.bool)
    expected[0:6, 8:16] = True  # the image fills rows 0..11 of the 16 (48 of 64 frame rows), padding below
    assert torch.equal(targets[0], expected)


def test_jitter_is_sams():
    box = SourceObject("x", np.array([100.0, 100.0, 400.0, 140.0]), rbox=np.array([250.0, 120.0, 300.0, 40.0, 0.3]))
    rng = np.random.default_rng(0)
    moves = np.array([jitter_object(box, rng).hbox - box.hbox for _ in range(2000)])
    std = moves.std(0)
    assert std[0] == pytest.approx(20, rel=0.1)  # 10% of 300 px capped at 20 px
    assert std[1] == pytest.approx(4, rel=0.1)  # 10% of 40 px
    assert jitter_object(box, rng).rbox[4] == 0.3


def test_tensor_cache_spills_to_disk(tmp_path):
    cache = TensorCache(memory_bytes=100, folder=tmp_path)
    small, large = (torch.ones(5),), (torch.arange(100.0), torch.zeros(3, dtype=torch.uint8))
    cache.put(0, small)
    cache.put(1, large)
    assert (len(cache), cache.spilled) == (2, 1)
    assert torch.equal(cache.get(0)[0], small[0])
    assert all(torch.equal(a, b) for a, b in zip(cache.get(1), large))


def _tuner(model_dir, **options) -> SamTuner:
    args = TrainSamArguments(str(model_dir), "squares", "unused", batch_size=2, **options)
    accelerator = Accelerator(cpu=True)
    return SamTuner(load_backend(str(model_dir), accelerator.device, torch.float32), Squares(), args, accelerator)


def test_a_few_steps_learn(quick_sam):
    torch.manual_seed(0)
    tuner = _tuner(quick_sam, prompts="hbox")
    optimizer = torch.optim.AdamW(tuner.trainable(), lr=1e-2)
    losses = []
    for step in range(8):
        loss = tuner.loss(step, 0)
        loss.total.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.total.item())
    assert np.mean(losses[-2:]) < 0.9 * np.mean(losses[:2]), losses
    assert not any(p.requires_grad for p in tuner.model.vision_encoder.parameters())  # frozen: cached embeddings
    assert len(tuner.cache) == 2


def _args(tmp_path, model, out, **options) -> list[str]:
    flags = {"--model": model, "--train": "synthetic", "--output-dir": out, "--synthetic-scenes": 2}
    flags |= {"--batch-size": 1, "--prompts-per-image": 4, "--eval-limit": 1, "--eval-steps": 0, "--eval": "none"}
    flags |= options
    return ["train-sam", *(str(v) for kv in flags.items() for v in kv)]


def test_resume_is_exact(quick_sam, tmp_path):
    """A run resumed from its step-2 checkpoint ends with the weights of the run that went straight through."""
    common = {"--max-steps": 4, "--checkpointing-steps": 2, "--learning-rate": 1e-3, "--prompts": "hbox,cp"}
    assert main(_args(tmp_path, quick_sam, tmp_path / "straight", **common)) == 0
    resume = {**common, "--resume-from-checkpoint": tmp_path / "straight" / "checkpoints" / "step_2"}
    assert main(_args(tmp_path, quick_sam, tmp_path / "resumed", **resume)) == 0
    straight, resumed, start = (
        load_backend(str(folder), torch.device("cpu"), torch.float32).model.state_dict()
        for folder in (tmp_path / "straight", tmp_path / "resumed", quick_sam)
    )
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert not all(torch.equal(straight[k], start[k]) for k in straight)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory) -> dict[str, Path]:
    """``samrs train-sam --model <tiny FAMILY> --train synthetic --max-steps 5 --output-dir D`` for each family."""
    base = tmp_path_factory.mktemp("tuned")
    out = {}
    for family in ("sam", "sam_hq", "sam2"):
        start = save_tiny_sam(base / f"{family}-start", family=family)
        out[family] = base / family
        options = {"--max-steps": 5, "--synthetic-scenes": 1, "--prompts-per-image": 2}
        assert main(_args(base, start, out[family], **options)) == 0
    return out


@pytest.mark.parametrize("family", ["sam", "sam_hq", "sam2"])
def test_each_family_saves_a_strict_checkpoint_that_labels(tuned, family, capfd):
    assert "samrs train-sam" in (tuned[family] / "README.md").read_text()
    labeler = SamLabeler(str(tuned[family]))
    assert type(labeler.model).__name__ == {"sam": "SamModel", "sam_hq": "SamHQModel", "sam2": "Sam2Model"}[family]
    image = Squares()[0]
    masks = [r.mask for r in labeler.label_objects(image.image, image.objects[:2], "hbox")]
    assert [m.shape for m in masks] == [(96, 128)] * 2
    printed = capfd.readouterr()
    assert "LOAD REPORT" not in printed.err + printed.out


def test_samrs_demo_runs_a_tuned_checkpoint(tuned, tmp_path, capfd):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--model", str(tuned["sam2"])]) == 0
    printed = capfd.readouterr()
    assert "LOAD REPORT" not in printed.err + printed.out and f"model {tuned['sam2']}" in printed.out
    assert json.loads((tmp_path / "demo" / "metrics.json").read_text())["instances"] == 23


def test_samrs_ablate_puts_the_base_and_the_tuned_model_side_by_side(quick_sam, tmp_path, capfd):
    tuned_sam = tmp_path / "tuned"
    assert main(_args(tmp_path, quick_sam, tuned_sam, **{"--max-steps": 1})) == 0
    root = write_hrsc_scenes(tmp_path / "hrsc", [make_scene(5, "s5")])
    command = ["ablate", "--root", str(root), "--out", str(tmp_path / "ablation"), "--prompts", "hbox,rhbox"]
    assert main([*command, "--model", str(quick_sam), "--model", str(tuned_sam)]) == 0
    models = json.loads((tmp_path / "ablation" / "ablation.json").read_text())["rows"][0]["models"]
    assert set(models) == {str(quick_sam), str(tuned_sam)} and models[str(tuned_sam)]["instances"] == 23
    assert "LOAD REPORT" not in capfd.readouterr().err


def test_lora_adapters_are_merged_into_a_plain_checkpoint(quick_sam, tmp_path):
    pytest.importorskip("peft")
    out = tmp_path / "lora"
    assert main(_args(tmp_path, quick_sam, out, **{"--max-steps": 2, "--lora-rank": 2, "--eval": "none"})) == 0
    tuned = SamLabeler(str(out)).model.state_dict()  # loads strictly: no adapter weights left
    start = SamLabeler(str(quick_sam)).model.state_dict()
    qkv = "vision_encoder.layers.0.attn.qkv.weight"
    assert not torch.equal(tuned[qkv], start[qkv])
    assert torch.equal(tuned["vision_encoder.patch_embed.projection.weight"],
                       start["vision_encoder.patch_embed.projection.weight"])  # fmt: skip


def test_push_to_hub_uploads_the_folder_and_checks_the_hub_first(quick_sam, tmp_path, monkeypatch, capsys):
    import huggingface_hub

    from samrs_hf.checkpoints import HubAccessError

    calls = []

    def unreachable(repo_id, flag):
        raise HubAccessError(f"{flag} {repo_id}: the Hub is unreachable")

    monkeypatch.setattr(huggingface_hub, "create_repo", lambda *a, **k: calls.append(("create", a, k)))
    monkeypatch.setattr(huggingface_hub, "upload_folder", lambda **k: calls.append(("upload", k)) or "URL")
    monkeypatch.setattr("samrs_hf.samtuning.trainer.check_hub_upload", unreachable)
    options = {"--max-steps": 1, "--eval": "none", "--push-to-hub": "org/tuned"}
    assert main(_args(tmp_path, quick_sam, tmp_path / "a", **options)) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("samrs train-sam: error: --push-to-hub org/tuned: the Hub is unreachable")
    assert "\n" not in error and not (tmp_path / "a").exists() and not calls
    monkeypatch.setattr("samrs_hf.samtuning.trainer.check_hub_upload", lambda repo_id, flag: None)
    assert main(_args(tmp_path, quick_sam, tmp_path / "b", **options)) == 0
    assert calls[0] == ("create", ("org/tuned",), {"exist_ok": True})
    upload = calls[1][1]
    assert (upload["repo_id"], upload["folder_path"]) == ("org/tuned", str(tmp_path / "b"))
    top = {path.name for path in (tmp_path / "b").iterdir() if path.is_file()}
    assert set(upload["allow_patterns"]) == top and {"config.json", "model.safetensors", "README.md"} <= top


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"--train": "nowhere"}, "--train nowhere: not a source of true masks"),
        ({"--train": "synthetic:neon"}, "synthetic:neon: unknown style"),
        ({"--batch-size": 3, "--gradient-accumulation-steps": 2}, "--batch-size 3 does not split"),
        ({"--prompts": "hbox,box"}, "--prompts / --eval-prompts: unknown prompt kind"),
        ({"--model": "missing-folder/x/y"}, "--model missing-folder/x/y: no such folder"),
    ],
)
def test_mistakes_are_one_line(quick_sam, tmp_path, capsys, options, message):
    assert main(_args(tmp_path, quick_sam, tmp_path / "out", **options)) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"samrs train-sam: error: {message}") and "\n" not in error


def test_sources_join_with_commas():
    from samrs_hf.samtuning.sources import open_mask_source

    joined = open_mask_source("synthetic:dark,synthetic", "--train", True, count=2)
    assert len(joined) == 4 and joined.description.count("synthetic scenes") == 2
    assert "style dark" in joined.description and "style default" in joined.description
