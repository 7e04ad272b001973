"""Label overlays a person can look at (the paper's Fig. 4 style).

* :func:`class_colors` is a fixed palette (same class -> same colour in every figure);
  :data:`IGNORE_INDEX` (255) pixels are left uncoloured.
* :func:`colorize` paints a semantic map in that palette; :func:`overlay_semantic` blends it onto
  its image.
* :func:`draw_polygons` outlines boxes or polygons (e.g. the prompts).
* :func:`save_overlay_grid` lays several overlays out with titles and a legend of the classes
  present, with matplotlib.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from samrs_hf.classes import IGNORE_INDEX

__all__ = ["OverlayPanel", "class_colors", "colorize", "draw_polygons", "overlay_semantic", "save_overlay_grid"]


def class_colors(n: int) -> np.ndarray:
    """``(n, 3)`` uint8 colours: matplotlib's tab20, then golden-ratio hues.

    Classes 0-9 get tab20's strong shades; 10-19 its light shades, hues shifted by five so that
    classes ``i`` and ``i + 10`` (often shown together) differ in hue.
    """
    from matplotlib import colormaps

    tab20 = np.asarray(colormaps["tab20"].colors)
    palette = [tuple(c) for c in np.concatenate([tab20[0::2], np.roll(tab20[1::2], -5, axis=0)])]
    for i in range(max(n - len(palette), 0)):
        hue = (i * 0.618033988749895) % 1.0
        palette.append(colorsys.hsv_to_rgb(hue, 0.75, 0.85 if i % 2 else 0.65))
    return np.rint(np.asarray(palette[:n]) * 255).astype(np.uint8).reshape(n, 3)


def colorize(semantic_map: np.ndarray, num_classes: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 picture of a semantic map in the :func:`class_colors` palette; 255 is black."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[:num_classes] = class_colors(num_classes)
    return palette[np.asarray(semantic_map)]


def overlay_semantic(image, semantic_map: np.ndarray, num_classes: int, alpha: float = 0.5) -> Image.Image:
    """Blend class colours onto ``image`` where ``semantic_map`` is labelled (255 stays as is).

    Raises ``ValueError`` if the map and image sizes differ or a value is neither a class
    index below ``num_classes`` nor 255.
    """
    rgb = np.asarray(Image.fromarray(np.asarray(image)).convert("RGB"), dtype=np.float32)
    labels = np.asarray(semantic_map)
    if labels.shape != rgb.shape[:2]:
        raise ValueError(f"semantic map shape {labels.shape} does not match image size {rgb.shape[:2]}")
    labelled = labels != IGNORE_INDEX
    if labelled.any() and int(labels[labelled].max()) >= num_classes:
        raise ValueError(f"semantic map has value {int(labels[labelled].max())} >= num_classes={num_classes}")
    colors = class_colors(num_classes).astype(np.float32)
    rgb[labelled] = (1 - alpha) * rgb[labelled] + alpha * colors[labels[labelled]]
    return Image.fromarray(np.rint(rgb).astype(np.uint8))


def draw_polygons(image, polygons: Sequence[np.ndarray], colors: Sequence | None = None, width: int = 2) -> Image.Image:
    """Outline each ``(N, 2)`` polygon (boxes as their 4 corners) on a copy of ``image``."""
    out = Image.fromarray(np.asarray(image)).convert("RGB")
    draw = ImageDraw.Draw(out)
    for i, polygon in enumerate(polygons):
        color = tuple(int(c) for c in colors[i]) if colors is not None else (255, 255, 0)
        points = [tuple(map(float, p)) for p in np.asarray(polygon).reshape(-1, 2)]
        draw.line(points + points[:1], fill=color, width=width)
    return out


@dataclass
class OverlayPanel:
    """One panel of a grid: a title, an RGB image and optionally its semantic map."""

    title: str
    image: Image.Image | np.ndarray
    semantic_map: np.ndarray | None = None


def save_overlay_grid(
    panels: Sequence[OverlayPanel],
    path: str | Path,
    class_names: Sequence[str],
    ncols: int = 3,
    alpha: float = 0.5,
    panel_inches: float = 4.0,
    dpi: int = 120,
) -> Path:
    """Save panels as a grid PNG with a legend of the classes present in their maps."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if not panels:
        raise ValueError("save_overlay_grid needs at least one panel")
    ncols = min(ncols, len(panels))
    nrows = -(-len(panels) // ncols)
    aspect = np.asarray(panels[0].image).shape[0] / np.asarray(panels[0].image).shape[1]
    fig = Figure(figsize=(panel_inches * ncols, (panel_inches * aspect + 0.3) * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    present: set[int] = set()
    for ax, panel in zip(axes.flat, panels):
        shown = panel.image
        if panel.semantic_map is not None:
            shown = overlay_semantic(panel.image, panel.semantic_map, len(class_names), alpha)
            present.update(int(v) for v in np.unique(panel.semantic_map) if v != IGNORE_INDEX)
        ax.imshow(np.asarray(shown))
        ax.set_title(panel.title, fontsize=10)
    for ax in axes.flat:
        ax.axis("off")
    colors = class_colors(len(class_names)) / 255.0
    handles = [Patch(facecolor=colors[i], label=class_names[i]) for i in sorted(present)]
    fig.tight_layout()
    if handles:  # below the panels; savefig's tight bounding box keeps it in the picture
        legend_kw = dict(loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(handles), 6), frameon=False)
        fig.legend(handles=handles, fontsize=9, **legend_kw)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path
