"""Mask-quality options: SAM's best of three masks, refinement passes, clipping to the rotated box."""

from __future__ import annotations

import numpy as np
import pytest
from masks_and_boxes import clip_hbox
from PIL import Image

from samrs_hf import geometry
from samrs_hf.labeling.labeler import Decoding, SamLabeler, parse_row
from samrs_hf.labeling.prompts import PromptSpec, build_prompts
from samrs_hf.records import SourceObject

HEIGHT, WIDTH = 160, 240


@pytest.fixture(scope="module")
def image() -> Image.Image:
    return Image.fromarray(np.random.default_rng(7).integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def objects() -> list[SourceObject]:
    out = []
    for r in [(60, 50, 90, 40, 0.5), (160, 110, 70, 30, -0.8), (120, 80, 150, 100, 0.1), (30, 130, 40, 20, 1.2)]:
        polygon = geometry.rbox_to_polygon(r)
        hbox = clip_hbox(geometry.polygon_to_hbox(polygon), WIDTH, HEIGHT)
        out.append(SourceObject("ship", hbox, polygon=polygon, rbox=np.array(r, dtype=float)))
    return out


@pytest.fixture(scope="module")
def labeler(tiny_sam_dir) -> SamLabeler:
    return SamLabeler(str(tiny_sam_dir), device="cpu", prompt_batch_size=2)


def test_text_forms_round_trip_and_errors_name_the_syntax():
    assert Decoding.parse("best@refine2@clip3") == Decoding(best=True, refine=2, clip_rbox=3.0)
    assert str(Decoding(best=True, refine=1, clip_rbox=2.5)) == "best@refine1@clip2.5" and str(Decoding()) == ""
    assert parse_row(" cp+rhbox@best ") == (PromptSpec.parse("cp+rhbox"), Decoding(best=True))
    assert parse_row("hbox") == (PromptSpec.parse("hbox"), Decoding())
    with pytest.raises(ValueError, match=r"unknown decoding option 'bset'.*best, refineK"):
        parse_row("hbox@bset")


def _manual(labeler, image, objects, multimask: bool, refine: int):
    """The options written out with the labeler's own decoder call and mask frame."""
    encoding = labeler.encode(image)
    inputs = build_prompts("hbox", objects, (HEIGHT, WIDTH), labeler.frame).chunk(0, len(objects))
    masks, scores = labeler.decode(encoding, inputs, multimask=multimask)
    best = scores.argmax(1)
    low_res = masks[np.arange(len(objects)), best]
    score = scores[np.arange(len(objects)), best]
    for _ in range(refine):
        masks, scores = labeler.decode(encoding, inputs | {"input_masks": low_res[:, None]})
        low_res, score = masks[:, 0], scores[:, 0]
    return [labeler.frame.upscale(m, (HEIGHT, WIDTH)) for m in low_res], score.tolist()


@pytest.mark.parametrize(("options", "multimask", "refine"), [("", False, 0), ("best", True, 0), ("refine1", False, 1)])
def test_best_and_refine_are_the_decoder_calls_they_describe(tiny_sam_dir, image, objects, options, multimask, refine):
    labeler = SamLabeler(str(tiny_sam_dir), device="cpu", prompt_batch_size=len(objects))
    masks, scores = _manual(labeler, image, objects, multimask, refine)
    results = list(labeler.label_objects(image, objects, "hbox", decoding=options))
    for result, mask, score in zip(results, masks, scores, strict=True):
        assert np.array_equal(result.mask, mask) and result.score == pytest.approx(score, abs=1e-6)


def test_best_keeps_the_highest_predicted_iou_of_three(labeler, image, objects):
    _, scores = labeler.decode(
        labeler.encode(image), build_prompts("hbox", objects, (HEIGHT, WIDTH), labeler.frame).chunk(0, 2), True
    )
    assert scores.shape == (2, 3)
    best = [r.score for r in labeler.label_objects(image, objects[:2], "hbox", decoding="best")]
    assert best == pytest.approx(scores.max(1).values.tolist(), abs=1e-6)


def test_refine_zero_is_no_refinement(labeler, image, objects):
    plain = list(labeler.label_objects(image, objects, "hbox"))
    zero = list(labeler.label_objects(image, objects, "hbox", decoding="refine0"))
    assert all(np.array_equal(a.mask, b.mask) and a.score == b.score for a, b in zip(plain, zero, strict=True))


def test_clipping_to_the_rotated_box_only_removes_pixels(labeler, image, objects):
    plain = list(labeler.label_objects(image, objects, "hbox"))
    clipped = list(labeler.label_objects(image, objects, "hbox", decoding="clip2"))
    removed = 0
    for before, after, obj in zip(plain, clipped, objects, strict=True):
        grown = geometry.rbox_to_polygon(obj.rbox + np.array([0, 0, 4, 4, 0]))
        inside = geometry.rasterize_polygon(grown, HEIGHT, WIDTH)
        assert not (after.mask & ~before.mask).any()
        assert np.array_equal(after.mask, before.mask & inside)
        removed += int(before.mask.sum() - after.mask.sum())
    assert removed > 0, "the tiny model's masks should spill out of some boxes, or the test checks nothing"
    no_rbox = [SourceObject("ship", obj.hbox) for obj in objects]
    kept = list(labeler.label_objects(image, no_rbox, "hbox", decoding="clip2"))
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(kept, plain, strict=True))
