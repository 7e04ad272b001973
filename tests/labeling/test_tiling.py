from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from samrs_hf.geometry import polygon_to_rbox, window_starts
from samrs_hf.labeling.tiling import TilingSpec, clip_object, tile_id, tile_scene, tile_windows
from samrs_hf.records import SourceImage, SourceObject


def _scene(width, height, objects=()):
    return SourceImage("S1", Path("S1.png"), width, height, list(objects))


def _quad(x0, y0, x1, y1, category="ship"):
    poly = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)
    return SourceObject(category, np.array([x0, y0, x1, y1], float), polygon=poly, rbox=polygon_to_rbox(poly))


@pytest.mark.parametrize(
    ("width", "height", "size", "stride"),
    [
        (1500, 1200, 1024, 824),
        (4000, 3001, 1024, 824),
        (712, 557, 1024, 824),
        (1800, 600, 600, 500),
        (601, 1199, 600, 500),
    ],
)
def test_windows_cover_every_pixel_and_stay_inside(width, height, size, stride):
    spec = TilingSpec(size, stride)
    covered = np.zeros((height, width), dtype=np.int32)
    for x0, y0, x1, y1 in tile_windows(width, height, spec):
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert x1 - x0 == min(size, width) and y1 - y0 == min(size, height)  # real size, never padded
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1


def test_window_starts_overlap_and_last_window_flush():
    assert window_starts(1500, 1024, 824) == [0, 476]
    assert window_starts(2000, 1024, 824) == [0, 824, 976]
    assert window_starts(1024, 1024, 824) == [0]
    assert window_starts(500, 600, 500) == [0]


def test_tile_id_follows_bboxtoolkit_naming():
    assert tile_id("P0001", 1024, 824, 0) == "P0001__1024__824___0"


def test_whole_image_spec_keeps_id_and_size():
    scene = _scene(800, 800, [_quad(10, 10, 50, 60)])
    (tile,) = tile_scene(scene, TilingSpec())
    assert (tile.image_id, tile.x0, tile.y0, tile.width, tile.height) == ("S1", 0, 0, 800, 800)
    np.testing.assert_allclose(tile.objects[0].hbox, [10, 10, 50, 60])


def test_clip_keeps_mostly_inside_objects_and_recomputes_boxes():
    obj = _quad(900, 100, 1100, 200)  # 200 wide, 124 px (62%) in [0, 1024)
    assert clip_object(obj, (0, 0, 1024, 1024), (1500, 1200), 0.7) == "cut_by_tile_edge"
    kept = clip_object(obj, (0, 0, 1024, 1024), (1500, 1200), 0.6)
    np.testing.assert_allclose(kept.hbox, [900, 100, 1024, 200])
    np.testing.assert_allclose(kept.rbox[:2], [962, 150])
    np.testing.assert_allclose(sorted(kept.rbox[2:4]), [100, 124])
    shifted = clip_object(obj, (476, 0, 1500, 1024), (1500, 1200), 0.7)
    np.testing.assert_allclose(shifted.hbox, [424, 100, 624, 200])
    np.testing.assert_allclose(shifted.rbox, obj.rbox - [476, 0, 0, 0, 0])


def test_clip_measures_visibility_against_the_in_scene_area():
    obj = _quad(-100, 10, 100, 50)  # half outside the scene: whole visible part is in the tile
    kept = clip_object(obj, (0, 0, 1024, 1024), (1500, 1200), 0.7)
    np.testing.assert_allclose(kept.hbox, [0, 10, 100, 50])
    assert clip_object(_quad(-50, -50, -10, -10), (0, 0, 1024, 1024), (1500, 1200), 0.7) == "degenerate"


def test_horizontal_only_objects_stay_without_polygon():
    obj = SourceObject("vehicle", np.array([790.0, 10, 810, 30]))
    kept = clip_object(obj, (0, 0, 800, 800), (800, 800), 0.5)
    assert kept.polygon is None and kept.rbox is None
    np.testing.assert_allclose(kept.hbox, [790, 10, 800, 30])


def test_tile_scene_counts_only_objects_lost_everywhere():
    inside_overlap = _quad(600, 600, 700, 700)  # whole in two tiles
    lost = _quad(0, 10, 1500, 30)  # spans the scene: 68% in each tile
    scene = _scene(1500, 1200, [inside_overlap, lost])
    dropped = Counter()
    tiles = tile_scene(scene, TilingSpec(1024, 824), dropped)
    assert [t.image_id for t in tiles] == [
        "S1__1024__0___0",
        "S1__1024__476___0",
        "S1__1024__0___176",
        "S1__1024__476___176",
    ]
    assert sum(len(t.objects) for t in tiles) == 4  # the 100x100 square is whole in all four
    assert dropped == Counter({"cut_by_tile_edge": 1})


def test_spec_rejects_bad_stride():
    with pytest.raises(ValueError, match="stride"):
        TilingSpec(1024, 0)
