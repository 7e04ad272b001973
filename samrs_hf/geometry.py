"""Boxes, polygons and sliding windows in pixel coordinates.

Conventions used across the library:

* ``hbox``: horizontal box ``[x_min, y_min, x_max, y_max]`` (float, continuous pixel frame:
  pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``; annotation corners are used as given).
* ``rbox``: rotated box ``[cx, cy, w, h, angle_rad]``; ``angle_rad`` turns the box's ``w`` side
  from the +x axis towards +y (clockwise on screen, since y points down). Units are in the
  names: readers convert degrees with :func:`np.deg2rad` before building an rbox.
* ``polygon``: ``(N, 2)`` array of ``(x, y)`` vertices; oriented boxes are 4-point polygons.
* ``rhbox``: the smallest horizontal box around a rotated box (SAM takes no rotated box).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "as_polygon",
    "clip_polygon",
    "hbox_area",
    "hbox_center",
    "hbox_xyxy_to_xywh",
    "polygon_area",
    "polygon_to_hbox",
    "polygon_to_rbox",
    "rasterize_hbox",
    "rasterize_polygon",
    "rbox_to_polygon",
    "rbox_to_rhbox",
    "rotate_points",
    "sliding_windows",
    "window_starts",
]


def as_polygon(points) -> np.ndarray:
    """Return ``points`` as a float64 ``(N, 2)`` array, dropping a repeated closing vertex."""
    poly = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(poly) > 1 and np.array_equal(poly[0], poly[-1]):
        poly = poly[:-1]
    return poly


def polygon_to_hbox(polygon) -> np.ndarray:
    """Tightest horizontal box around a polygon's vertices."""
    poly = as_polygon(polygon)
    return np.concatenate([poly.min(axis=0), poly.max(axis=0)])


def rotate_points(points, angle_rad: float, center=(0.0, 0.0)) -> np.ndarray:
    """Rotate ``(N, 2)`` points about the origin by ``angle_rad`` (+x towards +y), then move them to ``center``."""
    cos, sin = np.cos(angle_rad), np.sin(angle_rad)
    return np.asarray(points, dtype=np.float64) @ np.array([[cos, sin], [-sin, cos]]) + np.asarray(
        center, dtype=np.float64
    )


def rbox_to_polygon(rbox) -> np.ndarray:
    """Four corners of a rotated box, in order (-w/2,-h/2), (+w/2,-h/2), (+w/2,+h/2), (-w/2,+h/2)."""
    cx, cy, w, h, angle_rad = (float(v) for v in rbox)
    local = np.array([[-w, -h], [w, -h], [w, h], [-w, h]], dtype=np.float64) / 2
    return rotate_points(local, angle_rad, (cx, cy))


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """Andrew's monotone chain; counter-clockwise hull without repeated points."""
    pts = np.unique(points, axis=0)
    if len(pts) <= 2:
        return pts

    def cross(o, a, b) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def half(seq):
        out: list[np.ndarray] = []
        for p in seq:
            while len(out) >= 2 and cross(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def polygon_to_rbox(polygon) -> np.ndarray:
    """Minimum-area rotated rectangle around a polygon (rotating calipers over its hull).

    For a 4-point oriented box this gives back the box itself, with ``w`` along its first edge
    direction that achieves the minimum and ``angle_rad`` in ``[-pi/2, pi/2)``.
    """
    hull = _convex_hull(as_polygon(polygon))
    if len(hull) < 3:  # a segment or a point: zero-area box along it
        p0, p1 = (hull[0], hull[-1])
        d = p1 - p0
        angle = float(np.arctan2(d[1], d[0])) if np.any(d) else 0.0
        cx, cy = (p0 + p1) / 2
        return _normalize_rbox(np.array([cx, cy, float(np.hypot(*d)), 0.0, angle]))
    best = None
    for i in range(len(hull)):
        edge = hull[(i + 1) % len(hull)] - hull[i]
        angle = float(np.arctan2(edge[1], edge[0]))
        cos, sin = np.cos(angle), np.sin(angle)
        u = hull @ np.array([cos, sin])  # along the edge
        v = hull @ np.array([-sin, cos])  # across it
        area = (u.max() - u.min()) * (v.max() - v.min())
        if best is None or area < best[0] - 1e-9:
            uc, vc = (u.max() + u.min()) / 2, (v.max() + v.min()) / 2
            cx, cy = uc * cos - vc * sin, uc * sin + vc * cos
            best = (area, np.array([cx, cy, u.max() - u.min(), v.max() - v.min(), angle]))
    return _normalize_rbox(best[1])


def _normalize_rbox(rbox: np.ndarray) -> np.ndarray:
    """Bring ``angle_rad`` into ``[-pi/2, pi/2)``; the box itself is unchanged."""
    cx, cy, w, h, angle = rbox
    angle = (angle + np.pi / 2) % np.pi - np.pi / 2
    return np.array([cx, cy, w, h, angle], dtype=np.float64)


def rbox_to_rhbox(rbox) -> np.ndarray:
    """Smallest horizontal box containing a rotated box (SAMRS's ``rhbox`` prompt)."""
    return polygon_to_hbox(rbox_to_polygon(rbox))


def hbox_center(hbox) -> np.ndarray:
    """Center ``(x, y)`` of a horizontal box."""
    x0, y0, x1, y1 = np.asarray(hbox, dtype=np.float64)
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2])


def hbox_area(hbox) -> float:
    """Area of a horizontal box (0 for degenerate boxes)."""
    x0, y0, x1, y1 = np.asarray(hbox, dtype=np.float64)
    return float(max(x1 - x0, 0.0) * max(y1 - y0, 0.0))


def hbox_xyxy_to_xywh(hbox) -> np.ndarray:
    """``[x0, y0, x1, y1]`` -> COCO ``[x, y, w, h]``."""
    x0, y0, x1, y1 = np.asarray(hbox, dtype=np.float64)
    return np.array([x0, y0, x1 - x0, y1 - y0])


def clip_polygon(polygon, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Clip a polygon to the rectangle ``[x0, x1] x [y0, y1]`` (Sutherland-Hodgman).

    Returns an ``(M, 2)`` array, empty when the polygon lies outside the rectangle.
    """
    poly = as_polygon(polygon)
    # Each clip edge: (axis, bound, keep_greater)
    for axis, bound, keep_greater in ((0, x0, True), (0, x1, False), (1, y0, True), (1, y1, False)):
        if len(poly) == 0:
            break
        inside = poly[:, axis] >= bound if keep_greater else poly[:, axis] <= bound
        out = []
        for i in range(len(poly)):
            cur, prev = poly[i], poly[i - 1]
            cur_in, prev_in = inside[i], inside[i - 1]
            if cur_in != prev_in:
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                out.append(prev + t * (cur - prev))
            if cur_in:
                out.append(cur)
        poly = np.array(out, dtype=np.float64).reshape(-1, 2)
    return poly


def polygon_area(polygon) -> float:
    """Absolute area of a simple polygon (shoelace formula)."""
    poly = as_polygon(polygon)
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def rasterize_polygon(polygon, height: int, width: int) -> np.ndarray:
    """Boolean ``(height, width)`` mask of the pixels whose centers a polygon covers."""
    poly = as_polygon(polygon)
    canvas = Image.new("1", (width, height), 0)
    if len(poly) >= 3:
        # PIL fills pixel (i, j) when its integer coordinate lies inside; shift so that the
        # test uses pixel centers (j + 0.5, i + 0.5) of our continuous frame.
        ImageDraw.Draw(canvas).polygon([(x - 0.5, y - 0.5) for x, y in poly], fill=1, outline=1)
    return np.asarray(canvas, dtype=bool)


def rasterize_hbox(hbox, height: int, width: int) -> np.ndarray:
    """Boolean mask of a horizontal box with inclusive integer corners, as SAMRS rasterises them.

    ``x_min..x_max`` and ``y_min..y_max`` are rounded to pixel indices and both ends are filled,
    clipped to the image.
    """
    x0, y0, x1, y1 = np.rint(np.asarray(hbox, dtype=np.float64)).astype(int)
    mask = np.zeros((height, width), dtype=bool)
    mask[max(y0, 0) : max(min(y1 + 1, height), 0), max(x0, 0) : max(min(x1 + 1, width), 0)] = True
    return mask


def window_starts(length: int, size: int, stride: int) -> list[int]:
    """Origins of windows of ``size`` every ``stride`` along ``length``, the last one flush with the end."""
    if length <= size:
        return [0]
    starts = list(range(0, length - size, stride))
    return starts + [length - size]


def sliding_windows(width: int, height: int, size: int, stride: int) -> list[tuple[int, int, int, int]]:
    """Windows ``(x0, y0, x1, y1)`` of ``size`` every ``stride`` covering a ``width`` x ``height`` image,
    row by row; the last ones sit flush with the far edges, and a side shorter than ``size`` gives one
    window of that side's length (no padding)."""
    xs, ys = window_starts(width, size, stride), window_starts(height, size, stride)
    return [(x, y, min(x + size, width), min(y + size, height)) for y in ys for x in xs]
