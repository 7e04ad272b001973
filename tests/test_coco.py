import json

import numpy as np
from datasets import load_dataset
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from samrs_dataset import make_dataset
from samrs_hf.classes import SAMRS_RELEASE_CLASSES
from samrs_hf.coco import write_coco


def test_coco_export_loads_in_pycocotools(tmp_path):
    make_dataset(tmp_path / "samrs", "fast", rows=3)
    ds = load_dataset(str(tmp_path / "samrs"), "fast", split="train")
    path = write_coco(ds, tmp_path / "coco.json")
    coco = COCO(str(path))
    assert len(coco.getImgIds()) == 3 and len(coco.getAnnIds()) == 6
    names = SAMRS_RELEASE_CLASSES["fast"]
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(names)
    by_name = {img["file_name"]: img["id"] for img in coco.loadImgs(coco.getImgIds())}
    for row in ds:
        anns = coco.loadAnns(coco.getAnnIds(imgIds=by_name[row["image_id"]]))
        assert [a["category_id"] - 1 for a in anns] == [o["category"] for o in row["objects"]]
        for ann, obj in zip(anns, row["objects"]):
            expected = mask_utils.decode(obj["segmentation"] | {"counts": obj["segmentation"]["counts"].encode()})
            np.testing.assert_array_equal(coco.annToMask(ann), expected)
            assert ann["area"] == expected.sum() and ann["bbox"] == obj["bbox"]
    assert json.loads(path.read_text())["categories"][0] == {"id": 1, "name": names[0], "supercategory": "object"}
