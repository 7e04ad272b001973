"""``samrs train-sam``: a few steps learn, resume is exact, the result loads strictly and labels, for every family."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from accelerate import Accelerator
from PIL import Image

from samrs_hf.cli import main
from samrs_hf.experiments.tiny_sam import save_tiny_sam
from samrs_hf.labeling.backends import load_backend
from samrs_hf.labeling.labeler import SamLabeler
from samrs_hf.labeling.transforms import SamFrame
from samrs_hf.records import SourceObject
from samrs_hf.samtuning.prepare import TensorCache, grid_targets
from samrs_hf.samtuning.prompts import jitter_object
from samrs_hf.samtuning.sources import MaskedImage
from samrs_hf.samtuning.trainer import SamTuner, TrainSamArguments


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


def test_a_few_steps_learn(tiny_sam_dir):
    torch.manual_seed(0)
    tuner = _tuner(tiny_sam_dir, prompts="hbox")
    optimizer = torch.optim.AdamW(tuner.trainable(), lr=3e-3)
    losses = []
    for step in range(12):
        loss = tuner.loss(step, 0)
        loss.total.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.total.item())
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])
    assert not any(p.requires_grad for p in tuner.model.vision_encoder.parameters())  # frozen: cached embeddings
    assert len(tuner.cache) == 2


def _args(tmp_path, model, out, **options) -> list[str]:
    flags = {"--model": model, "--train": "synthetic", "--output-dir": out, "--synthetic-scenes": 2}
    flags |= {"--batch-size": 1, "--prompts-per-image": 4, "--eval-limit": 1, "--eval-steps": 0}
    flags |= options
    return ["train-sam", *(str(v) for kv in flags.items() for v in kv)]


def test_resume_is_exact(tiny_sam_dir, tmp_path):
    common = {"--max-steps": 4, "--checkpointing-steps": 2, "--learning-rate": 1e-3, "--prompts": "hbox,cp"}
    assert main(_args(tmp_path, tiny_sam_dir, tmp_path / "straight", **common)) == 0
    assert main(_args(tmp_path, tiny_sam_dir, tmp_path / "resumed", **{**common, "--max-steps": 2})) == 0
    resume = {**common, "--resume-from-checkpoint": tmp_path / "resumed" / "checkpoints" / "step_2"}
    assert main(_args(tmp_path, tiny_sam_dir, tmp_path / "resumed", **resume)) == 0
    straight = load_backend(str(tmp_path / "straight"), torch.device("cpu"), torch.float32).model.state_dict()
    resumed = load_backend(str(tmp_path / "resumed"), torch.device("cpu"), torch.float32).model.state_dict()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert not all(torch.equal(straight[k], v) for k, v in SamLabeler(str(tiny_sam_dir)).model.state_dict().items())


@pytest.mark.parametrize("family", ["sam", "sam_hq", "sam2"])
def test_each_family_trains_saves_strictly_and_runs_the_demo(family, tmp_path, capfd):
    start = save_tiny_sam(tmp_path / "start", family=family)
    out = tmp_path / "tuned"
    assert main(_args(tmp_path, start, out, **{"--max-steps": 5})) == 0
    card = (out / "README.md").read_text()
    assert "| `hbox` |" in card and "samrs train-sam" in card
    assert main(["demo", "--out", str(tmp_path / "demo"), "--model", str(out)]) == 0
    printed = capfd.readouterr()
    assert "LOAD REPORT" not in printed.err + printed.out and f"model {out}" in printed.out
    assert json.loads((tmp_path / "demo" / "metrics.json").read_text())["instances"] == 23
