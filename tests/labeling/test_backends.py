"""SAM-HQ and SAM 2 checkpoints: detected from their config, loaded strictly, labelled as their documented call does."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from masks_and_boxes import clip_hbox
from PIL import Image
from transformers import Sam2Model, SamHQModel, SamHQProcessor

from samrs_hf import geometry
from samrs_hf.cli import main
from samrs_hf.experiments.tiny_sam import save_tiny_sam
from samrs_hf.labeling.backends import resize_like_torchvision
from samrs_hf.labeling.labeler import SamLabeler
from samrs_hf.records import SourceObject

HEIGHT, WIDTH = 150, 230


@pytest.fixture(scope="module")
def image() -> Image.Image:
    rng = np.random.default_rng(4)
    return Image.fromarray(rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def objects() -> list[SourceObject]:
    rboxes = [(60, 50, 80, 30, 0.4), (150, 100, 60, 40, -1.0), (200.5, 40.2, 50, 12, 1.3)]
    out = []
    for r in rboxes:
        polygon = geometry.rbox_to_polygon(r)
        hbox = clip_hbox(geometry.polygon_to_hbox(polygon), WIDTH, HEIGHT)
        out.append(SourceObject("ship", hbox, polygon=polygon, rbox=np.array(r, dtype=float)))
    return out


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("families")
    return {family: str(save_tiny_sam(base / family, seed=1, family=family)) for family in ("sam_hq", "sam2")}


@torch.no_grad()
def sam_hq_call(folder: str, image, box) -> tuple[np.ndarray, float]:
    """One box per call, as in transformers' SAM-HQ docs."""
    model, processor = SamHQModel.from_pretrained(folder).eval(), SamHQProcessor.from_pretrained(folder)
    inputs = processor(images=image, input_boxes=[[box.tolist()]], return_tensors="pt")
    out = model(**{k: v for k, v in inputs.items() if k not in ("original_sizes", "reshaped_input_sizes")},
                multimask_output=False)  # fmt: skip
    mask = processor.post_process_masks(out.pred_masks, inputs["original_sizes"], inputs["reshaped_input_sizes"])
    return mask[0][0, 0].numpy(), float(out.iou_scores[0, 0, 0])


@torch.no_grad()
def sam2_call(folder: str, pixel_values: torch.Tensor, box) -> tuple[np.ndarray, float]:
    """One box per call through ``Sam2Model`` with the documented processor rules written out for prompts and
    masks: boxes scaled in float32 by 1024/width and 1024/height, masks brought back with one bilinear resize
    to the image size (the pixels are the backend's: against the processor's where torchvision imports)."""
    model = Sam2Model.from_pretrained(folder).eval()
    scale = torch.tensor([1024 / WIDTH, 1024 / HEIGHT, 1024 / WIDTH, 1024 / HEIGHT], dtype=torch.float32)
    boxes = torch.tensor(box, dtype=torch.float32) * scale
    out = model(pixel_values=pixel_values, input_boxes=boxes[None, None], multimask_output=False)
    mask = F.interpolate(out.pred_masks[0], (HEIGHT, WIDTH), mode="bilinear", align_corners=False)[0, 0] > 0
    return mask.numpy(), float(out.iou_scores[0, 0, 0])


@pytest.mark.parametrize("family", ["sam_hq", "sam2"])
def test_each_family_labels_as_its_own_documented_call(checkpoints, image, objects, family):
    labeler = SamLabeler(checkpoints[family], device="cpu", prompt_batch_size=1)
    assert type(labeler.model).__name__ == {"sam_hq": "SamHQModel", "sam2": "Sam2Model"}[family]
    results = list(labeler.label_objects(image, objects, prompt="hbox"))
    pixel_values = labeler.backend.pixel_values([image])
    for result, obj in zip(results, objects, strict=True):
        if family == "sam_hq":
            mask, score = sam_hq_call(checkpoints[family], image, obj.hbox)
        else:
            mask, score = sam2_call(checkpoints[family], pixel_values, obj.hbox)
        assert np.array_equal(result.mask, mask) and result.score == pytest.approx(score, abs=1e-5)
    assert any(r.mask.any() for r in results)


def test_sam2_pixels_are_the_processors_where_torchvision_imports(checkpoints, image, monkeypatch):
    """With torchvision, the backend uses Sam2ImageProcessor, and its own computation (used without torchvision)
    gives the same pixel values, on this CPU and on a CPU where torchvision resizes uint8 natively."""
    pytest.importorskip("torchvision")
    backend = SamLabeler(checkpoints["sam2"], device="cpu").backend
    processor, expected = backend.processor, backend.processor(images=[image], return_tensors="pt")["pixel_values"]
    assert processor is not None and torch.equal(backend.pixel_values([image]), expected)
    monkeypatch.setattr(backend, "processor", None)
    torch.testing.assert_close(backend.pixel_values([image]), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("capability", ["AVX2", "AVX512", "DEFAULT"])
def test_sam2_resize_follows_torchvisions_rule_for_the_cpu(capability, monkeypatch):
    """torchvision resizes uint8 natively on a CPU reading AVX2, elsewhere in float32 rounded back: the two differ
    by a grey level on many pixels, so the fallback must pick as torchvision does."""
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    pixels = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (1, 3, 150, 230), dtype=np.uint8))
    native = F.interpolate(pixels, (1024, 1024), mode="bilinear", align_corners=False, antialias=True)
    in_float = F.interpolate(pixels.float(), (1024, 1024), mode="bilinear", align_corners=False, antialias=True)
    in_float = in_float.round().to(torch.uint8)
    assert (native != in_float).float().mean() > 0.05
    assert torch.equal(resize_like_torchvision(pixels, (1024, 1024)), native if capability == "AVX2" else in_float)


def test_sam2_frame_is_the_fixed_square(checkpoints):
    labeler = SamLabeler(checkpoints["sam2"], device="cpu")
    assert labeler.frame.square and labeler.frame.resized((150, 230)) == (1024, 1024)
    points = torch.tensor([[115.3, 75.9]])  # Sam2Processor: float32 coordinates times new/old size, per axis
    points[:, 0], points[:, 1] = points[:, 0] * (1024 / 230), points[:, 1] * (1024 / 150)
    np.testing.assert_array_equal(labeler.frame.points(np.array([[115.3, 75.9]]), (150, 230)), points.numpy())


def test_a_checkpoint_loads_only_into_its_own_family(checkpoints, tmp_path):
    posing = tmp_path / "hq-as-sam"
    shutil.copytree(checkpoints["sam_hq"], posing)
    config = json.loads((posing / "config.json").read_text())
    (posing / "config.json").write_text(json.dumps(config | {"model_type": "sam", "architectures": ["SamModel"]}))
    with pytest.raises(ValueError, match=r"do not fit SamModel \(unexpected keys: mask_decoder\.") as error:
        SamLabeler(str(posing), device="cpu")
    assert "\n" not in str(error.value)
    (posing / "config.json").write_text(json.dumps({"model_type": "resnet"}))
    with pytest.raises(ValueError, match=r"is a 'resnet' checkpoint; samrs labels with SAM \(sam\), SAM-HQ"):
        SamLabeler(str(posing), device="cpu")


@pytest.mark.parametrize("family", ["sam_hq", "sam2"])
def test_demo_runs_with_each_family_without_a_load_report(tmp_path, checkpoints, capfd, family):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--model", checkpoints[family], "--device", "cpu"]) == 0
    printed = capfd.readouterr()
    assert "mIoU_I" in printed.out
    assert "LOAD REPORT" not in printed.err and "UNEXPECTED" not in printed.err and "MISSING" not in printed.err


def test_encoding_several_images_at_once_equals_one_by_one(tiny_sam_dir, image):
    labeler = SamLabeler(str(tiny_sam_dir), device="cpu")
    other = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((300, 120))
    batched = labeler.encode_batch([image, other])
    for encoding, alone in zip(batched, (labeler.encode(image), labeler.encode(other)), strict=True):
        assert encoding.image_size == alone.image_size
        torch.testing.assert_close(encoding.embeddings[0], alone.embeddings[0], rtol=1e-4, atol=1e-5)
