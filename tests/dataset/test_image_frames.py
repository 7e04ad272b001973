"""EXIF-rotated images through ``build`` and ``import-release``: what ``load_dataset`` gives back (image, semantic
map and instance masks) agrees in the annotation's frame, and an object's mask lies on the object's pixels."""

from __future__ import annotations

import numpy as np
import torch
from datasets import load_dataset
from hostile_images import encoded, exif, rotated_jpeg
from PIL import Image
from pycocotools import mask as mask_utils
from release_folders import HEIGHT, SEGS, WIDTH, Shape, write_release

from samrs_hf.dataset.build import BuildOptions, build_subset
from samrs_hf.dataset.release import ImportOptions, import_release
from samrs_hf.labeling.labeler import SamLabeler

DIOR_XML = """<annotation><size><width>{width}</width><height>{height}</height><depth>3</depth></size>
<object><name>ship</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox>
</object></annotation>"""


def _box_masks(self, encoding, inputs, decoding):
    """``SamLabeler._masks`` answering each box prompt with exactly that box, so a mask shows where its box went."""
    (h, w), (ph, pw) = self.frame.mask_size, self.frame.pad_size
    ys, xs = torch.arange(h)[:, None] + 0.5, torch.arange(w) + 0.5
    boxes = (inputs["input_boxes"][:, 0] * torch.tensor([w / pw, h / ph] * 2)).tolist()
    inside = [(xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1) for x0, y0, x1, y1 in boxes]
    return torch.stack(inside).float() * 20 - 10, torch.ones(len(boxes))


def _shown(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """A dark ``width`` x ``height`` scene with a bright object filling ``box`` = (x0, y0, x1, y1)."""
    pixels = np.full((height, width, 3), 30, np.uint8)
    x0, y0, x1, y1 = box
    pixels[y0:y1, x0:x1] = 230
    return pixels


def _mask(segmentation) -> np.ndarray:
    return mask_utils.decode({"size": segmentation["size"], "counts": segmentation["counts"].encode()}).astype(bool)


def _check_row(row, frame: tuple[int, int]) -> None:
    """Image, semantic map and every mask in ``frame`` = (width, height), each mask on bright pixels."""
    assert row["image"].size == row["semantic_map"].size == frame == (row["width"], row["height"])
    gray = np.asarray(row["image"].convert("L"))
    for obj in row["objects"]:
        mask = _mask(obj["segmentation"])
        assert mask.shape == gray.shape and mask.any()
        assert gray[mask].mean() > 200 and gray[~mask].mean() < 60


def test_build_labels_an_exif_rotated_jpeg_in_its_annotations_frame(tmp_path, tiny_sam_dir, monkeypatch):
    """Orientation 6, stored 160x120 and shown 120x160: one XML in the shown frame, one in the stored frame."""
    monkeypatch.setattr(SamLabeler, "_masks", _box_masks)
    shown_box, stored_box = (20, 100, 60, 140), (100, 60, 140, 100)  # the same object in the two frames
    shown = _shown(160, 120, shown_box)
    stored = np.rot90(shown, 1)  # what orientation 6 turns back into ``shown``
    images, xmls = tmp_path / "dior" / "JPEGImages-trainval", tmp_path / "dior" / "Annotations"
    images.mkdir(parents=True), xmls.mkdir()
    for name, (width, height), box in (("00001", (120, 160), shown_box), ("00002", (160, 120), stored_box)):
        (images / f"{name}.jpg").write_bytes(rotated_jpeg(stored))
        x0, y0, x1, y1 = box
        (xmls / f"{name}.xml").write_text(DIOR_XML.format(width=width, height=height, x0=x0, y0=y0, x1=x1, y1=y1))
    options = BuildOptions("sior", tmp_path / "dior", tmp_path / "samrs", str(tiny_sam_dir), splits=("all",))
    build_subset(options)
    first, second = load_dataset(str(tmp_path / "samrs"), "sior", split="train")
    _check_row(first, (120, 160))
    _check_row(second, (160, 120))


def test_import_keeps_an_exif_rotated_image_in_its_maps_frame(tmp_path):
    """A release JPEG stored 48x64 with orientation 6 beside its 64x48 map; a map tagged with an orientation
    keeps its own pixels (``datasets`` would have turned it)."""
    shape = Shape(13, box=(8, 6, 40, 30))
    root = write_release(tmp_path / "dior", "sior", {"train.txt": {"00001": [shape]}, "valid.txt": {"00002": []}})
    shown = _shown(HEIGHT, WIDTH, (0, 0, 0, 0))
    shown[shape.mask()] = 230
    (root / "JPEGImages-trainval" / "00001.jpg").write_bytes(rotated_jpeg(np.rot90(shown, 1)))
    gray = root / SEGS["sior"] / "gray" / "00002.png"
    pixels = np.asarray(Image.open(gray))
    gray.write_bytes(encoded(Image.open(gray), "PNG", exif=exif(6)))
    import_release(ImportOptions("sior", root, tmp_path / "samrs"))
    dataset = load_dataset(str(tmp_path / "samrs"), "sior")
    _check_row(dataset["train"][0], (WIDTH, HEIGHT))
    assert np.array_equal(np.asarray(dataset["validation"][0]["semantic_map"]), pixels)
