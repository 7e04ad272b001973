import numpy as np
import pytest

from samrs_hf import geometry as g


def test_rbox_polygon_round_trip():
    rbox = np.array([50.0, 40.0, 30.0, 10.0, 0.3])
    back = g.polygon_to_rbox(g.rbox_to_polygon(rbox))
    assert np.allclose(
        g.rbox_to_polygon(back)[np.argsort(g.rbox_to_polygon(back)[:, 0])],
        g.rbox_to_polygon(rbox)[np.argsort(g.rbox_to_polygon(rbox)[:, 0])],
    )
    assert back[2] * back[3] == pytest.approx(300.0)


def test_rhbox_is_tightest_horizontal_box():
    rbox = np.array([0.0, 0.0, 4.0, 2.0, np.pi / 2])
    assert np.allclose(g.rbox_to_rhbox(rbox), [-1, -2, 1, 2])
    rbox = np.array([10.0, 10.0, 2 * np.sqrt(2), 2 * np.sqrt(2), np.pi / 4])
    assert np.allclose(g.rbox_to_rhbox(rbox), [8, 8, 12, 12])


def test_clip_polygon_to_rect():
    square = [(0, 0), (10, 0), (10, 10), (0, 10)]
    clipped = g.clip_polygon(square, 5, 5, 20, 20)
    assert g.polygon_area(clipped) == pytest.approx(25.0)
    assert len(g.clip_polygon(square, 20, 20, 30, 30)) == 0


def test_rasterize_polygon_and_hbox():
    mask = g.rasterize_polygon([(0, 0), (4, 0), (4, 2), (0, 2)], 5, 6)
    assert mask.sum() == 8 and mask[:2, :4].all()
    box = g.rasterize_hbox([1, 1, 3, 2], 5, 6)
    assert box.sum() == 6 and box[1:3, 1:4].all()


def test_as_polygon_drops_closing_vertex():
    ring = [(0, 0), (1, 0), (1, 1), (0, 0)]
    assert g.as_polygon(ring).shape == (3, 2)
