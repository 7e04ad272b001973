"""COCO instance files: polygons, RLE (compressed and not), crowd regions, one-line errors, fuzzing, and
``samrs build coco`` -> ``load_dataset`` / stats / viz / COCO export, and ``samrs train-sam`` on it."""

from __future__ import annotations

import copy
import json
import random
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from samrs_hf.sources import COCO, AnnotationError, get_source
from samrs_hf.sources.coco import rle_counts

WIDTH, HEIGHT = 64, 48
SEED = 20261207
CASES = 400
CASE_SECONDS = 1.0


def _square(x0: int, y0: int, size: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[y0 : y0 + size, x0 : x0 + size] = True
    return mask


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def _runs(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO counts: run lengths in column-major order, starting with zeros."""
    flat = mask.T.ravel()
    boundaries = np.r_[0, np.flatnonzero(np.diff(flat.astype(np.int8))) + 1, flat.size]
    return ([0] if flat[0] else []) + np.diff(boundaries).tolist()


def coco_file(folder: Path) -> Path:
    """One 64x48 image with a polygon, a compressed RLE, an uncompressed RLE and a crowd region; categories
    listed out of id order."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (WIDTH, HEIGHT), (20, 30, 40)).save(folder / "images" / "a.png")
    mask = _square(30, 5, 10)
    data = {
        "images": [{"id": 7, "file_name": "a.png", "width": WIDTH, "height": HEIGHT}],
        "categories": [{"id": 3, "name": "tank"}, {"id": 1, "name": "ship"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [4, 4, 16, 10], "iscrowd": 0,
             "segmentation": [[4, 4, 20, 4, 20, 14, 4, 14]]},
            {"id": 2, "image_id": 7, "category_id": 3, "bbox": [30, 5, 10, 10], "iscrowd": 0,
             "segmentation": _rle(mask)},
            {"id": 3, "image_id": 7, "category_id": 3, "bbox": [5, 30, 8, 8], "iscrowd": 0,
             "segmentation": {"size": [HEIGHT, WIDTH], "counts": _runs(_square(5, 30, 8))}},
            {"id": 4, "image_id": 7, "category_id": 1, "bbox": [40, 30, 10, 10], "iscrowd": 1,
             "segmentation": _rle(_square(40, 30, 10))},
        ],
    }  # fmt: skip
    path = folder / "instances.json"
    path.write_text(json.dumps(data))
    return path


def test_reads_polygons_rle_and_skips_crowds(tmp_path):
    reader = get_source("coco")(coco_file(tmp_path), split="train")
    assert reader.classes == ("ship", "tank") and reader.image_ids() == ["7"]
    image = reader.load("7")
    assert (image.width, image.height, image.image_path.name) == (WIDTH, HEIGHT, "a.png")
    assert [o.category for o in image.objects] == ["ship", "tank", "tank"]
    np.testing.assert_array_equal(image.objects[0].hbox, [4, 4, 20, 14])
    np.testing.assert_allclose(image.objects[0].rbox[2:4], [16, 10])
    assert image.objects[1].rbox is None
    assert reader.report.counts == {"crowd": 1}
    masks = reader.masks(image)
    np.testing.assert_array_equal(masks[1], _square(30, 5, 10))
    np.testing.assert_array_equal(masks[2], _square(5, 30, 8))
    assert masks[0].sum() == pytest.approx(16 * 10, abs=30)


def _rewrite(path: Path, change) -> Path:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["annotations"][0].update(category_id=9), r"annotation 1: unknown category_id 9"),
        (lambda d: d["annotations"][1]["segmentation"].update(counts="1"), r"annotation 2: RLE counts do not"),
        (lambda d: d["annotations"][1]["segmentation"].update(counts="~~~"), r"annotation 2: malformed RLE"),
        (lambda d: d["annotations"][2]["segmentation"]["counts"].append(5), r"annotation 3: RLE counts do not"),
        (lambda d: d["annotations"][1]["segmentation"].update(size=[10**9, 10**9]), r"annotation 2: RLE size"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, -3, 4]), r"annotation 1: bbox has a negative side"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, 1e300, 4]), r"annotation 1: bbox value is 1e\+300"),
        (lambda d: d["annotations"][0].update(segmentation=[[1, 2, 3]]), r"annotation 1: a polygon needs 3"),
        (lambda d: d["images"][0].update(file_name="../../etc/passwd"), r"image 1: file_name .* leaves the image"),
        (lambda d: d["images"][0].update(width=0), r"image 1: width must be an integer"),
        (lambda d: d["categories"].append({"id": 1, "name": "x"}), r"category 3: id 1 or name 'x' appears twice"),
        (lambda d: d.pop("categories"), r"no 'categories' list"),
    ],
)
def test_bad_entries_are_one_line_naming_file_and_entry(tmp_path, change, message):
    path = _rewrite(coco_file(tmp_path), change)
    with pytest.raises(AnnotationError, match=rf"^{re.escape(str(path))}: {message}") as error:
        list(COCO(path))
    assert "\n" not in str(error.value)


def test_malformed_json_names_the_line_and_skip_bad_counts(tmp_path):
    path = coco_file(tmp_path)
    path.write_text(path.read_text().replace('"bbox"', '\n\n"bbox" x', 1))
    with pytest.raises(AnnotationError, match=rf"^{re.escape(str(path))}:3: malformed JSON"):
        COCO(path)
    path = _rewrite(coco_file(tmp_path), lambda d: d["annotations"][0].update(category_id=9))
    reader = COCO(path, skip_bad=True)
    assert len(next(iter(reader)).objects) == 2 and reader.report.counts == {"unknown_class": 1, "crowd": 1}


def test_compressed_counts_decode_as_pycocotools():
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = rng.random((HEIGHT, WIDTH)) < rng.random()
        assert rle_counts(_rle(mask)["counts"], (HEIGHT, WIDTH)) == _runs(mask)


BAD_VALUES = (None, True, -1, 0, 1e308, -1e308, 2**70, "1", "", [], {}, [1, 2], "../x", "\x00", 3.5, [[1]], "~")


def _mutate(rng: random.Random, data: dict) -> dict:
    data = copy.deepcopy(data)
    entries = [(key, entry) for key in ("images", "annotations", "categories") for entry in data[key]]
    key, entry = rng.choice(entries)
    op = rng.randrange(6)
    field = rng.choice(sorted(entry))
    if op == 0:
        del entry[field]
    elif op == 1:
        entry[field] = rng.choice(BAD_VALUES)
    elif op == 2:
        data[key].append(copy.deepcopy(entry))
    elif op == 3 and isinstance(entry.get("segmentation"), dict):
        counts = entry["segmentation"]["counts"]
        if isinstance(counts, str) and counts:
            at = rng.randrange(len(counts))
            entry["segmentation"]["counts"] = counts[:at] + chr(rng.randrange(32, 127)) + counts[at + 1 :]
        else:
            entry["segmentation"]["counts"] = [rng.randrange(-5, 3000) for _ in range(rng.randrange(8))]
    elif op == 4 and isinstance(entry.get("segmentation"), list) and entry["segmentation"]:
        polygon = entry["segmentation"][0]
        polygon[rng.randrange(len(polygon))] = rng.choice([1e7, -1e7, 0.5, 10**6, 63.9])
    else:
        data[rng.choice(["images", "annotations", "categories"])] = rng.choice([[], {}, None, [None], [1]])
    return data


def test_fuzz_coco(tmp_path):
    """Mutated files end in sane objects and masks, one error naming the file, or counted skips; never a crash
    (a bad RLE reaching pycocotools' unchecked decoder would write out of bounds)."""
    base = json.loads(coco_file(tmp_path).read_text())
    rng = random.Random(SEED)
    path = tmp_path / "instances.json"
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        for number in range(CASES):
            data = _mutate(rng, base)
            text = json.dumps(data)
            if number % 10 == 0:
                at = rng.randrange(len(text))
                text = text[:at] + rng.choice(["", "{", "]", "NaN", "\x00", '"', "1e999"]) + text[at + 1 :]
            path.write_text(text)
            start = time.perf_counter()
            try:
                _read_everything(path, skip_bad=False)
            except AnnotationError as error:
                assert str(error).startswith(f"{path}") and "\n" not in str(error), (number, str(error))
                try:
                    reader = _read_everything(path, skip_bad=True)
                except AnnotationError as whole_file:  # the file itself is unusable
                    assert str(whole_file).startswith(f"{path}")
                else:
                    assert all(m.startswith(str(path)) for m in reader.report.messages)
            assert time.perf_counter() - start < CASE_SECONDS, f"case {number} took too long"


def _read_everything(path: Path, skip_bad: bool) -> COCO:
    reader = COCO(path, skip_bad=skip_bad)
    for image in reader:
        for obj, mask in zip(image.objects, reader.masks(image)):
            x0, y0, x1, y1 = obj.hbox
            assert np.all(np.isfinite(obj.hbox)) and x0 < x1 and y0 < y1 and obj.category in reader.classes
            assert mask is None or mask.shape == (image.height, image.width)
    return reader
