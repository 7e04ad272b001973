"""Prompt specs and prompt geometry on the real HRSC2016 and DIOR-R annotations."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from samrs_hf import geometry
from samrs_hf.labeling.prompts import KINDS, PromptSpec, build_prompts
from samrs_hf.records import SourceObject

CORNERS = ("left_top", "right_top", "right_bottom", "left_bottom")


def hrsc_objects(fixtures_dir) -> tuple[list[SourceObject], tuple[int, int]]:
    root = ET.parse(fixtures_dir / "hrsc2016" / "Annotations" / "100000002.xml").getroot()
    size = (int(root.findtext("Img_SizeHeight")), int(root.findtext("Img_SizeWidth")))
    objects = []
    for obj in root.iter("HRSC_Object"):
        hbox = np.array([float(obj.findtext(f"box_{k}")) for k in ("xmin", "ymin", "xmax", "ymax")])
        # mbox_ang is in radians
        rbox = np.array([float(obj.findtext(f"mbox_{k}")) for k in ("cx", "cy", "w", "h", "ang")])
        objects.append(SourceObject("ship", hbox, rbox=rbox))
    return objects, size


def dior_objects(fixtures_dir, name: str) -> tuple[list[SourceObject], tuple[int, int]]:
    path = fixtures_dir / "dior" / "Annotations" / "Oriented Bounding Boxes" / f"{name}.xml"
    root = ET.parse(path).getroot()
    size = (int(root.findtext("size/height")), int(root.findtext("size/width")))
    objects = []
    for obj in root.iter("object"):
        box = obj.find("robndbox")
        corners = np.array([[float(box.findtext(f"x_{c}")), float(box.findtext(f"y_{c}"))] for c in CORNERS])
        objects.append(
            SourceObject(
                obj.findtext("name"),
                geometry.polygon_to_hbox(corners),
                corners,
                geometry.polygon_to_rbox(corners),
            )
        )
    return objects, size


@pytest.mark.parametrize(
    "text, expected",
    [
        ("hbox", PromptSpec(box="hbox")),
        ("cp", PromptSpec(point=True)),
        ("rbox_m", PromptSpec(mask="rbox_m")),
        ("cp+rhbox+rhbox_m", PromptSpec(True, "rhbox", "rhbox_m")),
        (" RHBOX_M + cp ", PromptSpec(True, None, "rhbox_m")),
    ],
)
def test_parse(text, expected):
    spec = PromptSpec.parse(text)
    assert spec == expected and PromptSpec.parse(str(spec)) == spec


@pytest.mark.parametrize(
    "text, message",
    [
        ("cp+box", "unknown prompt kind.*valid kinds: " + ", ".join(KINDS)),
        ("", "unknown prompt kind"),
        ("hbox+rhbox", "more than one box kind"),
        ("hbox_m+rbox_m", "more than one"),
        ("cp+cp", "repeats"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(ValueError, match=message):
        PromptSpec.parse(text)


def test_rotated_prompt_without_rbox_is_a_clear_error():
    objects = [SourceObject("car", np.array([0.0, 0, 10, 10]))]
    assert len(build_prompts("cp+hbox+hbox_m", objects, (20, 20))) == 1
    for prompt in ("rhbox", "rbox_m", "rhbox_m"):
        with pytest.raises(ValueError, match="object 0 \\(car\\) has no rotated box"):
            build_prompts(prompt, objects, (20, 20))


def test_hrsc_angle_is_radians_and_rhbox_is_tightest(fixtures_dir):
    objects, _ = hrsc_objects(fixtures_dir)
    for obj in objects:
        polygon = geometry.rbox_to_polygon(obj.rbox)
        rhbox = geometry.rbox_to_rhbox(obj.rbox)
        assert np.allclose(polygon.mean(axis=0), obj.rbox[:2])
        assert np.allclose(np.linalg.norm(polygon[1] - polygon[0]), obj.rbox[2])
        assert np.isclose(np.arctan2(*(polygon[1] - polygon[0])[::-1]), obj.rbox[4])
        # RH-Box holds the R-Box and touches it on all four sides
        assert np.allclose(rhbox, np.r_[polygon.min(axis=0), polygon.max(axis=0)])
        # the annotated H-Box (the ship's extent) lies inside the RH-Box: radians, not degrees
        assert (obj.hbox[:2] >= rhbox[:2] - 1).all() and (obj.hbox[2:] <= rhbox[2:] + 1).all()


@pytest.mark.parametrize("name", ["00001", "00008", "00968"])
def test_dior_rbox_polygon_lies_on_annotated_corners(fixtures_dir, name):
    objects, _ = dior_objects(fixtures_dir, name)
    for obj in objects:
        polygon = geometry.rbox_to_polygon(obj.rbox)
        distances = np.linalg.norm(obj.polygon[:, None] - polygon[None], axis=-1).min(axis=1)
        side = min(obj.rbox[2], obj.rbox[3])
        assert distances.max() <= max(1.5, 0.2 * side), (name, obj.polygon, polygon)
        rhbox = geometry.rbox_to_rhbox(obj.rbox)
        assert np.allclose(rhbox, np.r_[polygon.min(axis=0), polygon.max(axis=0)])


def sam_scale(size: tuple[int, int]) -> np.ndarray:
    """SAM's resize: longest side 1024, each side rounded; x and y scale factors."""
    h, w = size
    s = 1024 / max(h, w)
    return np.array([int(w * s + 0.5) / w, int(h * s + 0.5) / h])


@pytest.mark.parametrize("source", ["hrsc", "dior"])
def test_point_and_box_prompts_in_sam_frame(fixtures_dir, source):
    objects, size = hrsc_objects(fixtures_dir) if source == "hrsc" else dior_objects(fixtures_dir, "00008")
    scale = sam_scale(size)
    inputs = build_prompts("cp+rhbox", objects, size).chunk(0, len(objects))
    rhboxes = np.array([geometry.rbox_to_rhbox(o.rbox) for o in objects])
    assert np.allclose(inputs["input_boxes"][:, 0].numpy(), rhboxes * np.tile(scale, 2), atol=1e-3)
    centers = np.array([o.rbox[:2] for o in objects])
    assert np.allclose(inputs["input_points"][:, 0, 0].numpy(), centers * scale)
    assert (inputs["input_labels"] == 1).all()


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize("mask_kind", ["hbox_m", "rhbox_m", "rbox_m"])
def test_mask_prompt_lands_on_the_box_after_sam_resize(fixtures_dir, mask_kind):
    objects, size = hrsc_objects(fixtures_dir)
    dior, dior_size = dior_objects(fixtures_dir, "00008")
    for objs, shape in ((objects, size), (dior[:4], dior_size)):
        prompts = build_prompts(mask_kind, objs, shape)
        masks = prompts.chunk(0, len(prompts))["input_masks"]
        assert masks.shape == (len(objs), 1, 256, 256)
        assert masks.max() <= 1000 and masks.min() >= -1000
        scale = sam_scale(shape) / 4  # original pixels -> 256x256 frame
        for obj, mask in zip(objs, masks[:, 0].numpy()):
            if mask_kind == "rbox_m":
                region = geometry.rbox_to_polygon(obj.rbox)
            else:  # inclusive integer corners, as rasterised at the original resolution
                box = np.rint(obj.hbox if mask_kind == "hbox_m" else geometry.rbox_to_rhbox(obj.rbox))
                box = np.clip(box + [0, 0, 1, 1], 0, np.tile(shape[::-1], 2))
                region = geometry.as_polygon([box[[0, 1]], box[[2, 1]], box[[2, 3]], box[[0, 3]]])
            expected = geometry.rasterize_polygon(region * scale, 256, 256)
            positive = mask > 0
            assert iou(positive, expected) > (0.8 if expected.sum() > 200 else 0.6), (
                mask_kind,
                obj,
            )
            centroid = np.argwhere(positive).mean(axis=0)
            assert np.abs(centroid - np.argwhere(expected).mean(axis=0)).max() < 1.0
            padded = np.ceil(np.array(shape) * sam_scale(shape)[::-1] / 4).astype(int)
            assert (mask[padded[0] + 1 :] < 0).all() and (mask[:, padded[1] + 1 :] < 0).all()


def test_chunks_cover_all_objects(fixtures_dir):
    objects, size = dior_objects(fixtures_dir, "00008")
    prompts = build_prompts("cp+hbox+hbox_m", objects, size)
    assert len(prompts) == len(objects) == 11
    sizes = [len(prompts.chunk(s, s + 4)["input_boxes"]) for s in range(0, len(prompts), 4)]
    assert sizes == [4, 4, 3]
    assert prompts.chunk(8, 12)["input_masks"].shape == (3, 1, 256, 256)
    assert np.allclose(prompts.prompt_boxes, [o.hbox for o in objects])
