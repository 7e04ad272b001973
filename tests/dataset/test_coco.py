import json

import numpy as np
from datasets import load_dataset
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from samrs_folders import write_samrs

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
        anns = coco.loadAnns(coco.getAnnIds(imgIds=by_name[row["image_id"]]))
        assert [a["category_id"] - 1 for a in anns] == [o["category"] for o in row["objects"]]
        for ann, obj in zip(anns, row["objects"]):
            expected = mask_utils.decode(obj["segmentation"] | {"counts": obj["segmentation"]["counts"].encode()})
            np.testing.assert_array_equal(coco.annToMask(ann), expected)
            assert ann["area"] == expected.sum() and ann["bbox"] == obj["bbox"]
    assert json.loads(path.read_text())["categories"][0] == {"id": 1, "name": names[0], "supercategory": "object"}
