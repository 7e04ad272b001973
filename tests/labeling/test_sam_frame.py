"""SamFrame against transformers' SamProcessor: resized sizes, points, boxes, mask upscaling, mask prompts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import SamImageProcessorPil, SamProcessor

from samrs_hf.labeling.prompts import mask_prompt
from samrs_hf.labeling.sam_frame import SamFrame

SIZES = [(1024, 1024), (800, 800), (818, 1146), (37, 1000), (600, 451), (2000, 3)]


@pytest.fixture(scope="module")
def processor() -> SamProcessor:
    return SamProcessor(image_processor=SamImageProcessorPil())


@pytest.fixture(scope="module")
def frame(processor) -> SamFrame:
    return SamFrame.from_image_processor(processor.image_processor)


def test_frame_reads_the_processor_configuration():
    small = SamImageProcessorPil(size={"longest_edge": 512}, pad_size={"height": 512, "width": 512})
    assert SamFrame.from_image_processor(small) == SamFrame(512, (512, 512), (256, 256))
    assert SamFrame.from_image_processor(SamImageProcessorPil()) == SamFrame()


@pytest.mark.parametrize("size", SIZES)
def test_points_boxes_and_sizes_equal_the_processor(processor, frame, size):
    height, width = size
    rng = np.random.default_rng(height * width)
    points = rng.uniform(0, 1, (5, 2)) * (width, height)
    corners = np.sort(rng.uniform(0, 1, (5, 2, 2)) * (width, height), axis=1).reshape(5, 4)
    image = np.zeros((height, width, 3), dtype=np.uint8)
    inputs = processor(
        images=image,
        input_points=[[[p] for p in points.tolist()]],
        input_labels=[[[1] for _ in points]],
        input_boxes=[corners.tolist()],
        return_tensors="pt",
    )
    assert frame.resized(size) == tuple(inputs["reshaped_input_sizes"][0].tolist())
    assert torch.equal(torch.from_numpy(frame.points(points, size)), inputs["input_points"][0, :, 0])
    assert torch.equal(torch.from_numpy(frame.boxes(corners, size)), inputs["input_boxes"][0])


@pytest.mark.parametrize("size", SIZES)
def test_upscale_equals_post_process_masks(processor, frame, size):
    generator = torch.Generator().manual_seed(size[0])
    for low_res in (torch.randn(256, 256, generator=generator) - 1.5, torch.full((256, 256), -3.0)):
        expected = processor.post_process_masks([low_res[None, None]], [size], [frame.resized(size)])[0][0, 0]
        assert np.array_equal(frame.upscale(low_res, size), expected.numpy())


@pytest.mark.parametrize("size", [(1146, 818), (300, 700), (1024, 1024)])
def test_mask_prompt_follows_the_official_recipe(frame, size):
    """+-1000 at full resolution, bilinear to the longest side 1024, pad with -1000, bilinear to 256x256."""
    region = np.zeros(size, dtype=bool)
    region[size[0] // 4 : size[0] // 2, size[1] // 3 : size[1] // 2 + 7] = True
    scale = 1024 / max(size)
    resized = (int(size[0] * scale + 0.5), int(size[1] * scale + 0.5))
    logits = torch.where(torch.from_numpy(region), 1000.0, -1000.0)[None, None]
    logits = F.interpolate(logits, resized, mode="bilinear", align_corners=False)
    logits = F.pad(logits, (0, 1024 - resized[1], 0, 1024 - resized[0]), value=-1000.0)
    expected = F.interpolate(logits, (256, 256), mode="bilinear", align_corners=False)[0]
    prompt = mask_prompt(region, frame)
    assert prompt.dtype == torch.float32 and torch.equal(prompt, expected)
    assert prompt.max() > 0 and prompt.min() == -1000.0


def _logits(generator: torch.Generator) -> torch.Tensor:
    """SAM-like low-resolution logits: a negative background and one or two positive blobs."""
    low = torch.randn(256, 256, generator=generator) * 0.5 - 10
    for _ in range(int(torch.randint(1, 3, (1,), generator=generator))):
        y, x = torch.randint(0, 256, (2,), generator=generator).tolist()
        h, w = torch.randint(1, 40, (2,), generator=generator).tolist()
        low[y : y + h, x : x + w] += float(torch.rand(1, generator=generator)) * 20
    return low


@pytest.mark.parametrize("square", [False, True])
@pytest.mark.parametrize("size", [(1024, 1024), (800, 800), (600, 600), (818, 1146), (37, 1000), (2000, 1500)])
def test_windowed_masks_equal_the_full_resolution_ones(square, size, monkeypatch):
    """mask_window gives exactly upscale's mask, mostly without computing it (counted through the fallback)."""
    frame = SamFrame(square=square)
    generator = torch.Generator().manual_seed(size[0] + square)
    reference, full, fallbacks = frame.upscale, SamFrame._full_windows, []
    monkeypatch.setattr(SamFrame, "_full_windows", lambda self, low, s: fallbacks.append(1) or full(self, low, s))
    for _ in range(40):
        low = _logits(generator)
        expected, before = reference(low, size), len(fallbacks)
        window = frame.mask_window(low, size)
        assert np.array_equal(np.zeros(size, bool) if window is None else window.full(), expected)
        if window is not None and len(fallbacks) == before:  # tight: its first and last rows and columns hold the mask
            assert window.crop[[0, -1]].any(1).all() and window.crop[:, [0, -1]].any(0).all()
    assert len(fallbacks) <= 10, "the windowed path should decide most masks"


def test_a_chunk_of_windows_equals_one_by_one():
    frame, generator = SamFrame(), torch.Generator().manual_seed(5)
    low = torch.stack([_logits(generator) for _ in range(4)] + [torch.full((256, 256), -3.0)])
    windows = frame.windows(low, (700, 900))
    assert windows[-1] is None and sum(w is not None for w in windows) >= 2
    for window, single in zip(windows, low, strict=True):
        full = np.zeros((700, 900), bool) if window is None else window.full()
        assert np.array_equal(full, frame.upscale(single, (700, 900)))
