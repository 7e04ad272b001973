"""Export a SAMRS split as COCO instances JSON (RLE segmentation), readable by pycocotools, and its tiles."""

from __future__ import annotations

import json
import math
from pathlib import Path

from datasets import Dataset
from datasets import Image as ImageFeature
from tqdm.auto import tqdm

from samrs_hf.dataset.schema import tile_file_name

__all__ = ["to_coco", "write_coco"]


def to_coco(dataset: Dataset, description: str = "SAMRS", images_dir: str | Path | None = None) -> dict:
    """COCO instances dict of ``dataset`` (a SAMRS split); with ``images_dir``, each tile is written there too.

    ``file_name`` is the row's ``image_id`` with the extension of its stored image (``.png`` / ``.jpg``),
    the name the tile gets in ``images_dir`` (its bytes as stored, no re-encoding). Image ids count from 1
    in row order; category ids are the ClassLabel index + 1, since COCO tools often reserve 0 for the
    background.
    """
    names = dataset.features["objects"].feature["category"].names
    rows = dataset.select_columns(["image_id", "image", "width", "height", "objects"])
    rows = rows.cast_column("image", ImageFeature(decode=False))
    images, annotations, seen = [], [], set()
    for image_number, row in enumerate(tqdm(rows, desc="COCO export", unit="image"), 1):
        data = row["image"]["bytes"]
        file_name = tile_file_name(row["image_id"], data, f"{description}, row {image_number}")
        if file_name in seen:
            raise ValueError(f"{description}: two rows are named {row['image_id']!r}; COCO file names must differ")
        seen.add(file_name)
        if images_dir is not None:
            (Path(images_dir) / file_name).write_bytes(data)
        images.append({"id": image_number, "file_name": file_name, "width": row["width"], "height": row["height"]})
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


def write_coco(
    dataset: Dataset, path: str | Path, description: str = "SAMRS", images_dir: str | Path | None = None
) -> Path:
    """Write :func:`to_coco` of ``dataset`` to ``path`` (and the tiles to ``images_dir``); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if images_dir is not None:
        Path(images_dir).mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_coco(dataset, description, images_dir)), encoding="utf-8")
    return path
