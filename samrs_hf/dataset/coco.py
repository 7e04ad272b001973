"""Export a SAMRS split as COCO instances JSON (RLE segmentation), readable by pycocotools."""

from __future__ import annotations

import json
import math
from pathlib import Path

from datasets import Dataset
from tqdm.auto import tqdm

__all__ = ["to_coco", "write_coco"]


def to_coco(dataset: Dataset, description: str = "SAMRS") -> dict:
    """COCO instances dict of ``dataset`` (a SAMRS split).

    Image ids count from 1 in row order (``file_name`` is the row's ``image_id``); category ids
    are the ClassLabel index + 1, since COCO tools often reserve 0 for the background.
    """
    names = dataset.features["objects"].feature["category"].names
    rows = dataset.select_columns(["image_id", "width", "height", "objects"])
    images, annotations = [], []
    for image_number, row in enumerate(tqdm(rows, desc="COCO export", unit="image"), 1):
        images.append(
            {"id": image_number, "file_name": row["image_id"], "width": row["width"], "height": row["height"]}
        )
        for obj in row["objects"]:
            annotation = {
                "id": len(annotations) + 1,
                "image_id": image_number,
                "category_id": obj["category"] + 1,
                "bbox": [float(v) for v in obj["bbox"]],
                "area": int(obj["area"]),
                "segmentation": dict(obj["segmentation"]),
                "iscrowd": 0,
            }
            if not math.isnan(obj["score"]):  # NaN: not recorded (an imported release); strict JSON has no NaN
                annotation["score"] = float(obj["score"])
            annotations.append(annotation)
    categories = [{"id": i + 1, "name": name, "supercategory": "object"} for i, name in enumerate(names)]
    return {
        "info": {"description": description},
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


def write_coco(dataset: Dataset, path: str | Path, description: str = "SAMRS") -> Path:
    """Write :func:`to_coco` of ``dataset`` to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_coco(dataset, description)), encoding="utf-8")
    return path
