import json

import numpy as np
import pytest
from datasets import Image, load_dataset
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from samrs_folders import overlap_row, write_samrs

from samrs_hf.cli import main
from samrs_hf.dataset.coco import write_coco
from samrs_hf.dataset.subsets import SUBSETS


def test_coco_export_loads_in_pycocotools(tmp_path):
    write_samrs(tmp_path / "samrs", {"fast": {"train": 3}})
    ds = load_dataset(str(tmp_path / "samrs"), "fast", split="train")
    path = write_coco(ds, tmp_path / "coco.json")
    coco = COCO(str(path))
    assert len(coco.getImgIds()) == 3 and len(coco.getAnnIds()) == 6
    names = SUBSETS["fast"].classes
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(names)
    by_name = {img["file_name"]: img["id"] for img in coco.loadImgs(coco.getImgIds())}
    for row in ds:
        anns = coco.loadAnns(coco.getAnnIds(imgIds=by_name[row["image_id"] + ".png"]))
        assert [a["category_id"] - 1 for a in anns] == [o["category"] for o in row["objects"]]
        for ann, obj in zip(anns, row["objects"]):
            expected = mask_utils.decode(obj["segmentation"] | {"counts": obj["segmentation"]["counts"].encode()})
            np.testing.assert_array_equal(coco.annToMask(ann), expected)
            assert ann["area"] == expected.sum() and ann["bbox"] == obj["bbox"]
    assert json.loads(path.read_text())["categories"][0] == {"id": 1, "name": names[0], "supercategory": "object"}


def test_export_coco_writes_the_tiles_under_real_file_names(tmp_path, capsys):
    folder = write_samrs(tmp_path / "samrs", {"sota": {"train": 2}})
    out, images = tmp_path / "coco" / "sota.json", tmp_path / "coco" / "images"
    assert main(["export-coco", str(folder), "--config", "sota", "--out", str(out), "--images", str(images)]) == 0
    assert f"wrote {out} and the tiles in {images}" in capsys.readouterr().out
    coco = COCO(str(out))
    stored = load_dataset(str(folder), "sota", split="train").cast_column("image", Image(decode=False))
    assert [img["file_name"] for img in coco.loadImgs(coco.getImgIds())] == [f"{i}.png" for i in stored["image_id"]]
    for image, row in zip(coco.loadImgs(coco.getImgIds()), stored):
        assert (images / image["file_name"]).read_bytes() == row["image"]["bytes"]  # as stored, not re-encoded
    assert main(["export-coco", str(folder), "--config", "sota", "--out", str(tmp_path / "b.json"), "--images",
                 str(images)]) == 1  # fmt: skip
    assert f"--images {images} is not empty; pass --overwrite" in capsys.readouterr().err


def test_an_image_id_that_is_no_file_name_is_refused(tmp_path):
    def hostile(index: int, num_classes: int) -> dict:
        return overlap_row(index) | {"image_id": "../../escape"}

    folder = write_samrs(tmp_path / "samrs", {"sota": {"train": 1}}, make_row=hostile)
    dataset = load_dataset(str(folder), "sota", split="train")
    with pytest.raises(ValueError, match=r"^SAMRS, row 1: image_id '../../escape' cannot be a file name$"):
        write_coco(dataset, tmp_path / "coco.json", images_dir=tmp_path / "images")
    assert not list((tmp_path / "images").iterdir())
