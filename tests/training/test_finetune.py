"""Fine-tuning: the SEP backbone and decoder carry over by value, a fresh head of the right width, scores."""

from __future__ import annotations

import pytest
import torch

from samrs_hf.training import build_sep_model
from samrs_hf.training.finetune import FinetuneArguments, finetune, load_for_finetuning
from samrs_hf.training.finetune_datasets import ISAID, POTSDAM


@pytest.fixture(scope="module")
def sep_dir(tmp_path_factory, backbone_dir):
    base = tmp_path_factory.mktemp("finetune")
    torch.manual_seed(0)
    model = build_sep_model(
        str(backbone_dir), "upernet", {"sota": ["a", "b"], "fast": ["c", "d", "e"]}, decoder_channels=16
    )
    model.save_pretrained(base / "sep")
    return base / "sep", model


@pytest.mark.parametrize("spec", [POTSDAM, ISAID])
def test_backbone_and_decoder_kept_head_fresh(sep_dir, spec):
    folder, sep = sep_dir
    model = load_for_finetuning(str(folder), spec)
    for part in ("backbone", "decoder"):
        mine, theirs = getattr(model, part).state_dict(), getattr(sep, part).state_dict()
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert list(model.heads) == [spec.name]
    assert model.heads[spec.name].weight.shape == (len(spec.classes), 16, 1, 1)
    assert model.config.heads == {spec.name: list(spec.classes)}


def test_finetune_potsdam_reports_oa_and_f1(sep_dir, fixtures_dir, tmp_path):
    folder, _ = sep_dir
    args = FinetuneArguments(
        dataset="potsdam",
        root=str(fixtures_dir / "potsdam"),
        init=str(folder),
        train_fraction=0.1,
        tile_size=64,
        crop_size=64,
        batch_size=4,
        max_steps=2,
        eval_steps=2,
        eval_limit=8,
        num_workers=0,
        checkpointing_steps=0,
        output_dir=str(tmp_path),
    )
    history = finetune(args)
    scores = {k: v for k, v in history[-1].items() if k.startswith("eval/")}
    expected = {"eval/OA", "eval/mF1"} | {f"eval/F1/{name}" for name in POTSDAM.classes[:5]}
    assert set(scores) == expected  # clutter left out; IoU not reported for Potsdam
    assert 0 <= scores["eval/OA"] <= 100
    saved = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}
    assert {"model.safetensors", "preprocessor_config.json", "README.md"} <= set(saved)
    assert "Fine-tuned from sep (a local folder)." in saved["README.md"].decode()  # --init on the card
    assert not [name for name, data in saved.items() if str(tmp_path.parent).encode() in data]  # no local path
