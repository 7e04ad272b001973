"""Small raw detection datasets in the layouts the readers expect (real fixtures linked, plus made-up scenes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from samrs_hf.experiments.synthetic import Scene
from samrs_hf.geometry import rbox_to_polygon
from samrs_hf.sources.base import object_from_polygon
from samrs_hf.sources.dota import write_dota_labels


def scene_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth random RGB scene (compresses well, unlike noise)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (height // 50 + 2, width // 50 + 2, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((width, height), Image.Resampling.BILINEAR)


def _link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


def quad(cx: float, cy: float, w: float, h: float, angle: float = 0.0) -> np.ndarray:
    return rbox_to_polygon([cx, cy, w, h, angle])


# One object in each quadrant of a 1500x1200 scene (so every 1024/824 tile has one), a ship
# across the x = 1024 edge, and a bridge spanning the scene (under 70% in every tile: dropped).
DOTA_SCENE_OBJECTS = [
    ("plane", quad(200, 200, 120, 90, 0.3)),
    ("ship", quad(1300, 150, 60, 25, -0.5)),
    ("storage-tank", quad(300, 1100, 50, 50)),
    ("harbor", quad(1200, 1000, 140, 60, 0.1)),
    ("small-vehicle", quad(1020, 600, 30, 14, 0.7)),
    ("bridge", quad(750, 700, 1490, 20)),
]


def make_dota_root(root: Path, fixtures: Path) -> Path:
    """``root/train``: the real P1888 (712x557, 64 vehicles); ``root/val``: a made-up 1500x1200 scene P9000."""
    for suffix, folder in ((".png", "images"), (".txt", "labelTxt")):
        _link(fixtures / "dota" / folder / f"P1888{suffix}", root / "train" / folder / f"P1888{suffix}")
    (root / "val" / "images").mkdir(parents=True)
    scene_image(1500, 1200, seed=1).save(root / "val" / "images" / "P9000.png")
    objects = [object_from_polygon(name, poly) for name, poly in DOTA_SCENE_OBJECTS]
    write_dota_labels(root / "val" / "labelTxt" / "P9000.txt", objects)
    return root


def make_dior_root(root: Path, fixtures: Path) -> Path:
    """The real DIOR 00001 (800x800) with its horizontal XML, listed in ``ImageSets/Main/train.txt``."""
    _link(fixtures / "dior" / "JPEGImages" / "00001.jpg", root / "JPEGImages-trainval" / "00001.jpg")
    xml = "Annotations/Horizontal Bounding Boxes/00001.xml"
    _link(fixtures / "dior" / xml, root / xml)
    lists = root / "ImageSets" / "Main"
    lists.mkdir(parents=True)
    for split, ids in (("train", "00001\n"), ("val", ""), ("test", "")):
        (lists / f"{split}.txt").write_text(ids)
    return root


FAIR1M_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotation>
  <source><filename>{name}.tif</filename><origin>GF2/GF3</origin></source>
  <size><width>{width}</width><height>{height}</height><depth>3</depth></size>
  <objects>{objects}
  </objects>
</annotation>
"""
FAIR1M_OBJECT = """
    <object>
      <coordinate>pixel</coordinate><type>rectangle</type><description>None</description>
      <possibleresult><name>{category}</name></possibleresult>
      <points>{points}</points>
    </object>"""


def write_fair1m_scene(folder: Path, name: str, width: int, height: int, objects, seed: int = 0) -> None:
    """``folder/images/{name}.tif`` and ``folder/labelXml/{name}.xml`` (closed rings of "x,y" points)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labelXml").mkdir(parents=True, exist_ok=True)
    scene_image(width, height, seed).save(folder / "images" / f"{name}.tif")
    parts = []
    for category, poly in objects:
        ring = list(poly) + [poly[0]]
        points = "".join(f"<point>{x:.6f},{y:.6f}</point>" for x, y in ring)
        parts.append(FAIR1M_OBJECT.format(category=category, points=points))
    xml = FAIR1M_XML.format(name=name, width=width, height=height, objects="".join(parts))
    (folder / "labelXml" / f"{name}.xml").write_text(xml)


def fair1m_grid_objects(width: int, height: int, step: int = 250) -> list:
    """Rotated vehicles and ships on a grid, so that every 600/500 tile holds some."""
    names = ["Small Car", "Bus", "Motorboat", "Cargo Truck", "Fishing Boat", "Van"]
    objects = []
    for k, (cx, cy) in enumerate((x, y) for y in range(120, height, step) for x in range(120, width, step)):
        objects.append((names[k % len(names)], quad(cx, cy, 40 + 5 * (k % 4), 18, 0.4 * k)))
    return objects


def make_fair1m_root(root: Path, width: int = 1100, height: int = 1000) -> Path:
    """``root/train`` with one made-up FAIR1M scene (no FAIR1M image is public)."""
    write_fair1m_scene(root / "train", "0", width, height, fair1m_grid_objects(width, height))
    return root


def write_coco_scenes(out_dir: str | Path, scenes: list[Scene], classes: tuple[str, ...]) -> Path:
    """Write the scenes as ``images/<id>.png`` and a COCO instance file ``annotations.json`` (categories
    ``classes``, ids from 1) under ``out_dir``; return the file. Ships are written as their polygon (what
    an annotator draws), every other object as the RLE of its visible mask."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for number, scene in enumerate(scenes, 1):
        scene.image.save(out_dir / "images" / f"{scene.image_id}.png")
        images.append({"id": number, "file_name": f"{scene.image_id}.png", "width": scene.image.width,
                       "height": scene.image.height})  # fmt: skip
        for obj in scene.objects:
            rle = mask_utils.encode(np.asfortranarray(obj.mask.astype(np.uint8)))
            x, y, w, h = mask_utils.toBbox(rle).tolist()
            segmentation = (
                [obj.outline.ravel().round(2).tolist()]
                if obj.category == "ship"
                else {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            )
            annotations.append(
                {"id": len(annotations) + 1, "image_id": number, "category_id": classes.index(obj.category) + 1,
                 "bbox": [x, y, w, h], "area": int(obj.mask.sum()), "segmentation": segmentation, "iscrowd": 0}
            )  # fmt: skip
    categories = [{"id": i, "name": name, "supercategory": "object"} for i, name in enumerate(classes, 1)]
    path = out_dir / "annotations.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path
