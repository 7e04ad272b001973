import numpy as np
import pytest
from PIL import Image

from samrs_hf.dataset.viz import OverlayPanel, class_colors, draw_polygons, overlay_semantic, save_overlay_grid


def test_class_colors_are_fixed_and_distinct():
    colors = class_colors(37)
    assert colors.shape == (37, 3) and colors.dtype == np.uint8
    assert len({tuple(c) for c in colors}) == 37
    np.testing.assert_array_equal(class_colors(5), colors[:5])


def test_overlay_colours_labelled_pixels_only():
    image = np.full((20, 30, 3), 100, dtype=np.uint8)
    labels = np.full((20, 30), 255, dtype=np.uint8)
    labels[5:10, 5:10] = 2
    out = overlay_semantic(image, labels, num_classes=4, alpha=0.5)
    assert out.mode == "RGB" and out.size == (30, 20)
    rgb = np.asarray(out)
    expected = np.rint(0.5 * 100 + 0.5 * class_colors(4)[2].astype(float))
    np.testing.assert_array_equal(rgb[7, 7], expected)
    np.testing.assert_array_equal(rgb[0, 0], [100, 100, 100])


def test_overlay_rejects_bad_maps():
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="num_classes"):
        overlay_semantic(image, np.full((4, 4), 7, np.uint8), num_classes=3)
    with pytest.raises(ValueError, match="does not match"):
        overlay_semantic(image, np.zeros((4, 5), np.uint8), num_classes=3)


def test_draw_polygons_outlines_a_box():
    out = np.asarray(
        draw_polygons(
            np.zeros((20, 20, 3), np.uint8),
            [np.array([[2, 2], [15, 2], [15, 15], [2, 15]])],
            colors=[(255, 0, 0)],
            width=1,
        )
    )
    assert tuple(out[2, 8]) == (255, 0, 0) and tuple(out[8, 8]) == (0, 0, 0)


def _colours(path) -> set[tuple[int, int, int]]:
    with Image.open(path) as png:
        assert png.format == "PNG"
        return {tuple(c) for c in np.asarray(png.convert("RGB")).reshape(-1, 3)}


def test_grid_shows_each_panel_and_a_legend_of_the_classes_present(tmp_path):
    image = Image.new("RGB", (64, 48), (90, 120, 60))
    labels = np.full((48, 64), 255, np.uint8)
    labels[10:20, 10:30] = 1
    panels = [OverlayPanel("image", image), OverlayPanel("labels", image, labels)]
    colours = _colours(save_overlay_grid(panels, tmp_path / "grid.png", ["a", "b", "c"], ncols=2, alpha=0.5))
    palette = [tuple(int(v) for v in c) for c in class_colors(3)]
    blended = tuple(int(v) for v in np.rint(0.5 * np.array([90, 120, 60]) + 0.5 * class_colors(3)[1]))
    assert (90, 120, 60) in colours and blended in colours  # the image, and class "b" painted over it
    assert palette[1] in colours  # the legend's patch for "b"
    assert palette[0] not in colours and palette[2] not in colours  # classes absent from the maps: no legend entry
