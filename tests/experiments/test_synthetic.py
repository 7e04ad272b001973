import numpy as np

from samrs_hf.experiments.synthetic import make_scene, write_dota_scene
from samrs_hf.geometry import polygon_to_hbox, polygon_to_rbox, rasterize_polygon
from samrs_hf.sources.dota import DOTA


def test_scene_is_seeded_and_has_every_category():
    a, b, c = make_scene(3), make_scene(3), make_scene(4)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert not np.array_equal(np.asarray(a.image), np.asarray(c.image))
    assert a.image.size == (1024, 768) and a.image.mode == "RGB"
    assert {o.category for o in a.objects} == {"ship", "plane", "storage-tank", "harbor"}


def _grow(mask: np.ndarray) -> np.ndarray:
    """The mask and its 8 neighbours (edge pixels may round either way)."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return np.any([padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)], axis=0)


def test_masks_are_disjoint_nonempty_and_inside_their_boxes():
    scene = make_scene(0)
    h, w = scene.image.height, scene.image.width
    cover = np.zeros((h, w), dtype=int)
    for obj in scene.objects:
        assert obj.mask.any()
        cover += obj.mask
        assert not np.any(obj.mask & ~_grow(rasterize_polygon(obj.polygon, h, w)))
        ys, xs = np.nonzero(obj.mask)
        np.testing.assert_allclose([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], obj.hbox, atol=1.5)
    assert cover.max() == 1


def test_harbor_box_contains_the_moored_ships():
    scene = make_scene(0)
    harbor = next(o for o in scene.objects if o.category == "harbor")
    x0, y0, x1, y1 = harbor.hbox
    moored = [
        o
        for o in scene.objects
        if o.category == "ship" and x0 <= o.hbox[0] and o.hbox[2] <= x1 and y0 <= o.hbox[1] and o.hbox[3] <= y1
    ]
    assert len(moored) == 2


def test_written_dota_labels_match_the_masks(tmp_path):
    scene = make_scene(1)
    write_dota_scene(tmp_path, scene)
    image = DOTA(tmp_path).load(scene.image_id)
    assert (image.width, image.height) == scene.image.size
    assert [o.category for o in image.objects] == [o.category for o in scene.objects]
    h, w = image.height, image.width
    for read, drawn in zip(image.objects, scene.objects):
        np.testing.assert_allclose(read.polygon, drawn.polygon, atol=1e-6)
        np.testing.assert_allclose(read.hbox, polygon_to_hbox(drawn.polygon), atol=1e-6)
        # the written box is a minimum-area rectangle of the mask: it holds the mask and has
        # (up to pixel rounding) the area of the mask's own minimum-area rectangle
        ys, xs = np.nonzero(drawn.mask)
        mask_rbox = polygon_to_rbox(np.stack([xs + 0.5, ys + 0.5], 1))
        assert not np.any(drawn.mask & ~_grow(rasterize_polygon(read.polygon, h, w)))
        written_area, mask_area = read.rbox[2] * read.rbox[3], mask_rbox[2] * mask_rbox[3]
        assert abs(written_area - mask_area) <= 0.06 * written_area
