"""A small synthetic overhead scene with known object masks, for the demo and for tests.

The scene is drawn from its masks: every object is a set of polygons (or a disc) rasterised
with :func:`samrs_hf.geometry.rasterize_polygon`, and the image is painted through those same
masks, so the ground truth is exact. Objects: a U-shaped ``harbor`` pier on the water with
``ship`` s moored in its slips and others at sea (rotated), cross-shaped ``plane`` s on an
apron, and ``storage-tank`` discs, on a noisy ground crossed by roads. Categories are DOTA's.

Each object's mask is its visible pixels (a later object hides an earlier one where they
overlap; no shapes overlap here, but the harbor's box holds the moored ships, the case where
label maps must keep small objects). Its oriented box is the minimum-area rectangle of its
outline, as a DOTA annotator would draw it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from samrs_hf.geometry import polygon_to_hbox, polygon_to_rbox, rasterize_polygon, rbox_to_polygon, rotate_points
from samrs_hf.records import SourceObject
from samrs_hf.sources.dota import write_dota_labels

__all__ = [
    "STYLES",
    "Scene",
    "SceneObject",
    "make_scene",
    "write_dota_scene",
    "write_hrsc_scenes",
]


@dataclass
class SceneObject:
    """One drawn object: category, visible mask, outline vertices and the boxes derived from them."""

    category: str
    mask: np.ndarray  # bool (H, W), visible pixels
    outline: np.ndarray  # (N, 2) vertices of the drawn shape(s)

    @property
    def rbox(self) -> np.ndarray:
        """Minimum-area rotated box ``[cx, cy, w, h, angle_rad]`` around the outline."""
        return polygon_to_rbox(self.outline)

    @property
    def polygon(self) -> np.ndarray:
        """The oriented box as 4 corners (what a DOTA label line holds)."""
        return rbox_to_polygon(self.rbox)

    @property
    def hbox(self) -> np.ndarray:
        """Tight horizontal box ``[x0, y0, x1, y1]`` around the outline."""
        return polygon_to_hbox(self.outline)

    def to_source_object(self) -> SourceObject:
        """The object as a detection reader would yield it (oriented box as polygon)."""
        polygon = self.polygon
        return SourceObject(self.category, polygon_to_hbox(polygon), polygon=polygon, rbox=self.rbox)


@dataclass
class Scene:
    """A synthetic image and its objects (in drawing order)."""

    image_id: str
    image: Image.Image
    objects: list[SceneObject]

    def semantic_map(self, classes: tuple[str, ...], ignore_index: int = 255) -> np.ndarray:
        """Ground-truth label map: index of each object's category in ``classes``, else ``ignore_index``."""
        out = np.full((self.image.height, self.image.width), ignore_index, dtype=np.uint8)
        for obj in self.objects:
            out[obj.mask] = classes.index(obj.category)
        return out


def _ship_hull(length: float, beam: float) -> np.ndarray:
    """A hull pointing along +x: square stern, pointed bow."""
    half_l, half_b = length / 2, beam / 2
    return np.array(
        [[-half_l, -half_b], [half_l - beam, -half_b], [half_l, 0], [half_l - beam, half_b], [-half_l, half_b]]
    )


def _plane_parts(length: float, span: float) -> list[np.ndarray]:
    """Fuselage, wings and tailplane as rectangles (a cross) pointing along +x."""

    def rect(x0: float, x1: float, half_h: float) -> np.ndarray:
        return np.array([[x0, -half_h], [x1, -half_h], [x1, half_h], [x0, half_h]])

    fuselage = rect(-length / 2, length / 2, length * 0.06)
    wings = rect(-length * 0.02, length * 0.16, span / 2)
    tail = rect(-length / 2, -length * 0.38, span * 0.18)
    return [fuselage, wings, tail]


def _disc_mask(cx: float, cy: float, radius: float, height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= radius**2


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """Values in [0, 1]: coarse random field upsampled bicubically (cheap value noise)."""
    coarse = rng.random((height // cell + 2, width // cell + 2)).astype(np.float32)
    big = Image.fromarray(coarse).resize((width + 2 * cell, height + 2 * cell), Image.BICUBIC)
    field = np.asarray(big)[cell : cell + height, cell : cell + width]
    return (field - field.min()) / max(float(np.ptp(field)), 1e-6)


class _Painter:
    """Paints regions of an RGB float canvas with a colour and per-pixel noise."""

    def __init__(self, rng: np.random.Generator, height: int, width: int):
        self.rng, self.height, self.width = rng, height, width
        self.canvas = np.zeros((height, width, 3), dtype=np.float32)

    def fill(self, mask: np.ndarray, color, noise: float = 6.0) -> None:
        jitter = self.rng.normal(0.0, noise, size=(int(mask.sum()), 3))
        self.canvas[mask] = np.asarray(color, dtype=np.float32) + jitter

    def image(self) -> Image.Image:
        return Image.fromarray(np.clip(self.canvas, 0, 255).astype(np.uint8))


def _draw_ground(painter: _Painter, water: np.ndarray, apron: np.ndarray) -> None:
    rng, h, w = painter.rng, painter.height, painter.width
    grass = np.array([96, 112, 70], dtype=np.float32)
    soil = np.array([150, 135, 100], dtype=np.float32)
    t = _smooth_noise(rng, h, w, cell=48)[..., None]
    painter.canvas[:] = grass * (1 - t) + soil * t + rng.normal(0, 8, (h, w, 3))
    roads = Image.new("1", (w, h), 0)
    draw = ImageDraw.Draw(roads)
    draw.line([(340, 0), (380, h)], fill=1, width=22)
    draw.line([(340, 560), (w, 520)], fill=1, width=18)
    painter.fill(np.asarray(roads, dtype=bool), (120, 120, 118), noise=5)
    painter.fill(apron, (165, 163, 158), noise=4)
    waves = _smooth_noise(rng, h, w, cell=24)[..., None]
    sea = np.array([28, 62, 96], dtype=np.float32) + 14 * waves
    painter.canvas[water] = sea[water] + rng.normal(0, 3, (int(water.sum()), 3))


def _harbor(center: tuple[float, float]) -> list[np.ndarray]:
    """A U-shaped pier (three arms) opening towards -x, as three rectangles."""
    cx, cy = center
    back = np.array([[cx + 70, cy - 150], [cx + 95, cy - 150], [cx + 95, cy + 150], [cx + 70, cy + 150]])
    arms = [
        np.array([[cx - 110, y0], [cx + 70, y0], [cx + 70, y0 + 18], [cx - 110, y0 + 18]])
        for y0 in (cy - 150, cy - 9, cy + 132)
    ]
    return [back, *arms]


WIDTH, HEIGHT = 1024, 768
Shape = list[np.ndarray] | tuple[float, float, float]  # polygons, or a disc (cx, cy, r)


def _layout(rng: np.random.Generator) -> list[tuple[str, Shape, tuple[int, int, int]]]:
    """``(category, shape, colour)`` of every object, in drawing order, jittered by ``rng``."""
    shapes = []
    hx, hy = 170.0, 380.0 + rng.uniform(-20, 20)
    shapes.append(("harbor", _harbor((hx, hy)), (175, 170, 160)))
    for slip_y in (hy - 70.5, hy + 70.5):  # moored ships, in the two slips of the U
        hull = _ship_hull(rng.uniform(120, 150), rng.uniform(26, 32))
        shapes.append(("ship", [rotate_points(hull, np.pi, (hx - 25, slip_y))], (215, 215, 220)))
    for cx, cy in ((80, 90), (210, 120), (90, 660), (220, 700)):  # ships at sea, rotated
        hull = _ship_hull(rng.uniform(70, 120), rng.uniform(16, 24))
        center = (cx + rng.uniform(-15, 15), cy + rng.uniform(-15, 15))
        shapes.append(("ship", [rotate_points(hull, rng.uniform(-np.pi, np.pi), center)], (230, 228, 225)))
    for col, row in np.ndindex(4, 2):  # planes on the apron
        center = (510 + col * 130 + rng.uniform(-8, 8), 140 + row * 220 + rng.uniform(-8, 8))
        parts = _plane_parts(rng.uniform(90, 110), rng.uniform(85, 105))
        angle = rng.uniform(-0.6, 0.6) + (np.pi / 2 if row else -np.pi / 2)
        shapes.append(("plane", [rotate_points(p, angle, center) for p in parts], (238, 238, 240)))
    for col, row in np.ndindex(4, 2):  # storage tanks
        disc = (520 + col * 95 + rng.uniform(-6, 6), 620 + row * 90 + rng.uniform(-6, 6), rng.uniform(28, 38))
        shapes.append(("storage-tank", disc, (205, 200, 190)))
    return shapes


STYLES: dict[str, dict[str, tuple[int, int, int]]] = {
    "default": {},
    "dark": {"ship": (48, 44, 40), "plane": (58, 60, 66), "storage-tank": (70, 62, 52), "harbor": (84, 78, 70)},
}
"""Object colours by category that replace the default (light) ones: ``dark`` objects are an appearance the
embedded model never saw (the fine-tuning experiment of ``benchmarks/sam_tuning.py``)."""


def make_scene(seed: int | np.random.SeedSequence = 0, image_id: str | None = None, style: str = "default") -> Scene:
    """Draw the 1024x768 synthetic scene (deterministic for a given ``seed`` and ``style``, see :data:`STYLES`)."""
    if style not in STYLES:
        raise ValueError(f"unknown scene style {style!r}; choose from {', '.join(STYLES)}")
    rng = np.random.default_rng(seed)
    painter = _Painter(rng, HEIGHT, WIDTH)
    water = np.zeros((HEIGHT, WIDTH), dtype=bool)
    water[:, :300] = True
    apron = np.zeros((HEIGHT, WIDTH), dtype=bool)
    apron[40:480, 430:980] = True
    _draw_ground(painter, water, apron)
    owner = np.full((HEIGHT, WIDTH), -1, dtype=np.int16)  # which object each pixel shows
    objects = []
    for index, (category, shape, color) in enumerate(_layout(rng)):
        color = STYLES[style].get(category, color)
        mask, outline = _shape_mask(shape, HEIGHT, WIDTH)
        painter.fill(mask, np.asarray(color) * rng.uniform(0.9, 1.0))
        owner[mask] = index
        objects.append(SceneObject(category, mask, outline))
    for index, obj in enumerate(objects):
        obj.mask = owner == index
    image = painter.image().filter(ImageFilter.GaussianBlur(0.6))
    return Scene(image_id or f"synthetic_{seed}", image, objects)


def _shape_mask(shape: Shape, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Mask and outline vertices of a list of polygons, or of a disc ``(cx, cy, r)`` (outline: its square)."""
    if isinstance(shape, tuple):
        cx, cy, radius = shape
        outline = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * radius + np.array([cx, cy])
        return _disc_mask(cx, cy, radius, height, width), outline
    mask = np.zeros((height, width), dtype=bool)
    for polygon in shape:
        mask |= rasterize_polygon(polygon, height, width)
    return mask, np.concatenate(shape)


def write_dota_scene(out_dir: str | Path, scene: Scene) -> Path:
    """Write ``images/<id>.png`` and ``labelTxt/<id>.txt`` (DOTA format) under ``out_dir``; return ``out_dir``."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "labelTxt").mkdir(parents=True, exist_ok=True)
    scene.image.save(out_dir / "images" / f"{scene.image_id}.png")
    write_dota_labels(out_dir / "labelTxt" / f"{scene.image_id}.txt", [o.to_source_object() for o in scene.objects])
    return out_dir


HRSC_OBJECT = """    <HRSC_Object>
      <Class_ID>100000001</Class_ID><difficult>0</difficult>
      <box_xmin>{0:.1f}</box_xmin><box_ymin>{1:.1f}</box_ymin><box_xmax>{2:.1f}</box_xmax><box_ymax>{3:.1f}</box_ymax>
      <mbox_cx>{4:.4f}</mbox_cx><mbox_cy>{5:.4f}</mbox_cy><mbox_w>{6:.4f}</mbox_w><mbox_h>{7:.4f}</mbox_h>
      <mbox_ang>{8:.6f}</mbox_ang><seg_color>{9},{10},{11}</seg_color>
    </HRSC_Object>
"""


def write_hrsc_scenes(root: str | Path, scenes: list[Scene]) -> Path:
    """Write the scenes in HRSC2016's layout under ``root`` (``AllImages/*.bmp``, ``Annotations/*.xml``,
    ``Segmentations/*.png`` with one colour per object, ``ImageSets/test.txt``), so that ``samrs ablate`` scores
    them; every object is written as class 01 (``ship``: HRSC2016 has ship classes only, and the ablation
    reads no class). Returns ``root``."""
    root = Path(root)
    for folder in ("AllImages", "Annotations", "Segmentations", "ImageSets"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for scene in scenes:
        segmentation = np.zeros((scene.image.height, scene.image.width, 3), dtype=np.uint8)
        objects = []
        for number, obj in enumerate(scene.objects, 1):
            color = (number, 255 - number, 128)
            segmentation[obj.mask] = color
            objects.append(HRSC_OBJECT.format(*obj.hbox, *obj.rbox, *color))
        scene.image.save(root / "AllImages" / f"{scene.image_id}.bmp")
        Image.fromarray(segmentation).save(root / "Segmentations" / f"{scene.image_id}.png")
        xml = (
            f"<HRSC_Image><Img_ID>{scene.image_id}</Img_ID><Img_SizeWidth>{scene.image.width}</Img_SizeWidth>"
            f"<Img_SizeHeight>{scene.image.height}</Img_SizeHeight>\n  <HRSC_Objects>\n{''.join(objects)}"
            "  </HRSC_Objects>\n</HRSC_Image>\n"
        )
        (root / "Annotations" / f"{scene.image_id}.xml").write_text(xml, encoding="utf-8")
    (root / "ImageSets" / "test.txt").write_text("".join(f"{s.image_id}\n" for s in scenes), encoding="utf-8")
    return root
