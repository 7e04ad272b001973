"""SamLabeler against the plain one-object-per-call use of SamProcessor + SamModel, and its memory bound."""

from __future__ import annotations

import weakref

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from masks_and_boxes import clip_hbox
from PIL import Image
from transformers import SamModel, SamProcessor

from samrs_hf import geometry
from samrs_hf.labeling.labeler import LabeledObject, ModelNotAvailableError, SamLabeler
from samrs_hf.labeling.prompts import build_prompts
from samrs_hf.records import SourceObject

HEIGHT, WIDTH = 180, 260


@pytest.fixture(scope="module")
def image() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def objects() -> list[SourceObject]:
    rboxes = [
        (60, 50, 80, 30, 0.4),
        (150, 120, 60, 40, -1.0),
        (220.5, 40.2, 50, 12, 1.3),
        (40, 150, 30, 30, 0.0),
        (130, 60, 120, 70, 2.0),
    ]
    out = []
    for r in rboxes:
        poly = geometry.rbox_to_polygon(r)
        hbox = clip_hbox(geometry.polygon_to_hbox(poly), WIDTH, HEIGHT)
        out.append(SourceObject("ship", hbox, polygon=poly, rbox=np.array(r, dtype=float)))
    return out


@pytest.fixture(scope="module")
def labelers(tiny_sam_dir) -> dict[int, SamLabeler]:
    """Labelers decoding 1 and 3 prompts per call (5 objects: chunks of 3 and 2)."""
    return {chunk: SamLabeler(str(tiny_sam_dir), device="cpu", prompt_batch_size=chunk) for chunk in (1, 3)}


@pytest.fixture(scope="module")
def labeler(labelers) -> SamLabeler:
    return labelers[3]


@pytest.fixture(scope="module")
def plain(tiny_sam_dir):
    return SamModel.from_pretrained(tiny_sam_dir).eval(), SamProcessor.from_pretrained(tiny_sam_dir)


def reference_mask_input(region: np.ndarray) -> torch.Tensor:
    """The official SAMRS mask prompt, written out: +-1000, resize longest side to 1024, pad, 256x256."""
    h, w = region.shape
    scale = 1024 / max(h, w)
    size = (int(h * scale + 0.5), int(w * scale + 0.5))
    logits = torch.where(torch.from_numpy(region.copy()), 1000.0, -1000.0)[None, None]
    logits = F.interpolate(logits, size, mode="bilinear", align_corners=False)
    logits = F.pad(logits, (0, 1024 - size[1], 0, 1024 - size[0]), value=-1000.0)
    return F.interpolate(logits, (256, 256), mode="bilinear", align_corners=False)


@torch.no_grad()
def plain_call(plain, image, obj: SourceObject, prompt: str) -> tuple[np.ndarray, float]:
    """One object per call, as in the transformers SAM docs (the image is encoded each time)."""
    model, processor = plain
    kwargs, masks = {}, None
    rhbox = geometry.rbox_to_rhbox(obj.rbox)
    if "cp" in prompt.split("+"):
        kwargs.update(input_points=[[obj.rbox[:2].tolist()]], input_labels=[[1]])
    if "rhbox" in prompt.split("+"):
        kwargs["input_boxes"] = [[rhbox.tolist()]]
    if "hbox" in prompt.split("+"):
        kwargs["input_boxes"] = [[obj.hbox.tolist()]]
    if "rbox_m" in prompt.split("+"):
        masks = reference_mask_input(geometry.rasterize_polygon(geometry.rbox_to_polygon(obj.rbox), HEIGHT, WIDTH))
    inputs = processor(images=image, return_tensors="pt", **kwargs)
    prompts = {k: v for k, v in inputs.items() if k.startswith("input_")}
    out = model(
        pixel_values=inputs["pixel_values"],
        input_masks=masks,
        multimask_output=False,
        **prompts,
    )
    mask = processor.post_process_masks(out.pred_masks, inputs["original_sizes"], inputs["reshaped_input_sizes"])
    return mask[0][0, 0].numpy(), float(out.iou_scores[0, 0, 0])


@pytest.fixture(scope="module")
def references(plain, image, objects):
    """Masks and scores of the one-object-per-call computation, per prompt (computed once)."""
    cache: dict[str, list[tuple[np.ndarray, float]]] = {}

    def get(prompt: str) -> list[tuple[np.ndarray, float]]:
        if prompt not in cache:
            cache[prompt] = [plain_call(plain, image, obj, prompt) for obj in objects]
        return cache[prompt]

    return get


@pytest.mark.parametrize("chunk", [1, 3])
@pytest.mark.parametrize("prompt", ["hbox", "cp+rhbox", "rbox_m", "cp+hbox+rbox_m"])
def test_labeler_equals_one_object_per_call(labelers, references, image, objects, prompt, chunk):
    results = list(labelers[chunk].label_objects(image, objects, prompt=prompt))
    assert [r.index for r in results] == list(range(len(objects)))
    for result, (mask, score) in zip(results, references(prompt)):
        assert result.mask.dtype == bool and result.mask.shape == (HEIGHT, WIDTH)
        assert np.array_equal(result.mask, mask), f"{prompt}: mask {result.index} differs"
        assert result.score == pytest.approx(score, abs=1e-5)


def test_labeler_masks_are_not_trivial(labeler, image, objects):
    """Guards the equivalence test: the tiny model's masks differ from object to object."""
    masks = [r.mask for r in labeler.label_objects(image, objects, prompt="hbox")]
    assert any(m.any() for m in masks) and not all(np.array_equal(masks[0], m) for m in masks[1:])


def test_results_carry_their_object_and_prompt_box(labeler, image, objects):
    results = list(labeler.label_objects(image, objects, prompt="cp+rhbox"))
    for result, obj in zip(results, objects, strict=True):
        assert result.object is obj
        np.testing.assert_allclose(result.prompt_box, geometry.rbox_to_rhbox(obj.rbox))
    hbox = next(labeler.label_objects(image, objects, prompt="hbox_m"))
    np.testing.assert_array_equal(hbox.prompt_box, objects[0].hbox)


def test_labeler_accepts_numpy_reuses_encodings_and_rejects_a_wrong_size(labeler, image, objects):
    first = next(labeler.label_objects(np.asarray(image), objects[:1]))
    assert isinstance(first, LabeledObject) and first.index == 0
    encoding = labeler.encode(image)
    again = next(labeler.label_objects(image, objects[:1], encoding=encoding))
    assert np.array_equal(again.mask, first.mask) and again.score == first.score
    with pytest.raises(ValueError, match="size"):
        next(labeler.label_objects(image.crop((0, 0, WIDTH, HEIGHT - 1)), objects[:1], encoding=encoding))
    assert list(labeler.label_objects(image, [])) == []


def test_600_objects_keep_one_chunk_alive(tiny_sam_dir, monkeypatch):
    """An image with 600 objects streams: at most one chunk of low-res masks is alive at any time."""
    labeler = SamLabeler(str(tiny_sam_dir), device="cpu", prompt_batch_size=64)
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 240, (600, 2))
    objects = [SourceObject("car", np.array([x, y, x + 16, y + 10])) for x, y in xy]
    image = Image.new("RGB", (256, 256))
    chunks: list[weakref.ref] = []
    masks = labeler._masks

    def alive() -> int:
        return sum(ref() is not None for ref in chunks)

    def spy(encoding, inputs, decoding):
        assert alive() == 0, "the previous chunk is still alive while decoding the next"
        low_res, scores = masks(encoding, inputs, decoding)
        chunks.append(weakref.ref(low_res))
        return low_res, scores

    monkeypatch.setattr(labeler, "_masks", spy)
    count = 0
    for result in labeler.label_objects(image, objects, prompt="hbox"):
        assert result.index == count and alive() == 1
        count += 1
    assert count == 600 and len(chunks) == 10


def test_missing_models_fail_at_once_naming_the_option(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"--model .*no-such-model: no such folder"):
        SamLabeler(str(tmp_path / "no-such-model"), device="cpu")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"no weights \(\*\.safetensors"):
        SamLabeler(str(tmp_path / "empty"), device="cpu")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(
        ModelNotAvailableError, match=r"--model org/not-cached .*offline and not cached; pass --model PATH"
    ):
        SamLabeler("org/not-cached", device="cpu")


def test_half_precision_runs_the_model_in_that_dtype(tiny_sam_dir, image, objects, labeler):
    """``dtype="bf16"`` (the CUDA setting, checked here on the CPU) gives fp32's logits up to rounding."""
    half = SamLabeler(str(tiny_sam_dir), device="cpu", dtype="bf16", prompt_batch_size=3)
    assert next(half.model.parameters()).dtype == torch.bfloat16
    prompts = build_prompts("cp+rhbox+rbox_m", objects, (HEIGHT, WIDTH), labeler.frame)
    logits = [lab.decode(lab.encode(image), prompts.chunk(0, len(objects)))[0] for lab in (half, labeler)]
    assert logits[0].dtype == torch.float32 and logits[0].shape == logits[1].shape
    # bf16 keeps 8 mantissa bits: 0.96 here, while two different prompts' logits correlate at -0.08
    assert np.corrcoef(logits[0].flatten().numpy(), logits[1].flatten().numpy())[0, 1] > 0.9
    masks = list(half.label_objects(image, objects, prompt="cp+rhbox+rbox_m"))
    assert [m.index for m in masks] == list(range(len(objects)))
    assert all(m.mask.dtype == bool and m.mask.shape == (HEIGHT, WIDTH) for m in masks)
