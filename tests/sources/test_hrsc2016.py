import numpy as np
import pytest
from PIL import Image, ImageDraw

from samrs_hf.records import ImageReadError
from samrs_hf.sources import AnnotationError
from samrs_hf.sources.hrsc2016 import HRSC2016, HRSC2016_CLASS_IDS, parse_seg_color, read_hrsc_xml


def _object_xml(class_id, box, color):
    x0, y0, x1, y1 = box
    return (
        f"<HRSC_Object><Class_ID>{class_id}</Class_ID><difficult>0</difficult>"
        f"<box_xmin>{x0}</box_xmin><box_ymin>{y0}</box_ymin><box_xmax>{x1}</box_xmax><box_ymax>{y1}</box_ymax>"
        f"<mbox_cx>{(x0 + x1) / 2}</mbox_cx><mbox_cy>{(y0 + y1) / 2}</mbox_cy>"
        f"<mbox_w>{x1 - x0}</mbox_w><mbox_h>{y1 - y0}</mbox_h><mbox_ang>0</mbox_ang>"
        f"<seg_color>{color}</seg_color></HRSC_Object>"
    )


def _write_image(data_dir, image_id, objects_xml, size=(40, 30)):
    for folder in ("AllImages", "Annotations"):
        (data_dir / folder).mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size).save(data_dir / "AllImages" / f"{image_id}.bmp")
    xml = (
        f"<HRSC_Image><Img_ID>{image_id}</Img_ID><Img_SizeWidth>{size[0]}</Img_SizeWidth>"
        f"<Img_SizeHeight>{size[1]}</Img_SizeHeight><HRSC_Objects>{objects_xml}</HRSC_Objects></HRSC_Image>"
    )
    (data_dir / "Annotations" / f"{image_id}.xml").write_text(xml)


@pytest.fixture
def hrsc_root(tmp_path):
    """FullDataSet layout: image 1 (test, two coloured ships + one without colour, PNG),
    image 2 (test, coloured ship but no PNG), image 3 (trainval, PNG)."""
    data = tmp_path / "FullDataSet"
    ships = _object_xml(100000013, (2, 3, 12, 9), "255,0,0") + _object_xml(100000001, (20, 10, 35, 25), " 0, 128 ,255")
    _write_image(data, "1", ships + _object_xml(100000002, (5, 20, 9, 28), ""))
    _write_image(data, "2", _object_xml(100000001, (2, 3, 12, 9), "255,0,0"))
    _write_image(data, "3", _object_xml(100000001, (2, 3, 12, 9), "0,255,0"))
    (data / "Segmentations").mkdir()
    for image_id, rects in (("1", [((2, 3, 11, 8), (255, 0, 0)), ((20, 10, 34, 24), (0, 128, 255))]), ("3", [])):
        segmentation = Image.new("RGB", (40, 30))
        for rect, color in rects:
            ImageDraw.Draw(segmentation).rectangle(rect, fill=color)
        segmentation.save(data / "Segmentations" / f"{image_id}.png")
    (tmp_path / "ImageSets").mkdir()
    (tmp_path / "ImageSets" / "test.txt").write_text("1\n2\n")
    (tmp_path / "ImageSets" / "trainval.txt").write_text("3\n")
    return tmp_path


def test_fixture_image_100000002(fixtures_dir):
    source = HRSC2016(fixtures_dir / "hrsc2016")
    assert source.image_ids() == ["100000002"]
    image = source.load("100000002")
    assert (image.width, image.height, image.image_path.name) == (1146, 818, "100000002.bmp")
    (ship,) = image.objects
    assert ship.category == "Kuznetsov" and ship.difficult is False  # Class_ID 100000013
    np.testing.assert_array_equal(ship.hbox, [318, 39, 766, 759])
    np.testing.assert_array_equal(ship.rbox, [522.6854, 396.3961, 777.237, 189.8481, 1.078961])
    # mbox_ang is radians: the long side runs at 1.079 rad (61.8 deg), steeply down-right
    long_side = ship.polygon[1] - ship.polygon[0]
    assert np.arctan2(long_side[1], long_side[0]) == pytest.approx(1.078961)
    assert np.hypot(*long_side) == pytest.approx(777.237)
    assert ship.attributes == {"seg_color": None}  # empty <seg_color>: no ground truth
    assert source.gt_masks(image) == [None] and source.ablation_ids() == []


def test_class_table_matches_mmrotate(fixtures_dir):
    rows = (fixtures_dir / "classes" / "hrsc2016_classes_mmrotate.tsv").read_text().splitlines()
    table = dict(line.split("\t") for line in rows if line and not line.startswith("#"))
    assert table == HRSC2016_CLASS_IDS
    assert HRSC2016.classes == tuple(table.values())


@pytest.mark.parametrize(
    "text, color",
    [("255,0,0", (255, 0, 0)), (" 0, 128 ,255 ", (0, 128, 255)), ("", None), ("1,2", None), ("300,0,0", None)],
)
def test_parse_seg_color(text, color):
    assert parse_seg_color(text) == color


def test_gt_masks_are_the_pixels_of_each_colour(hrsc_root):
    source = HRSC2016(hrsc_root)
    image = source.load("1")
    assert [o.category for o in image.objects] == ["Kuznetsov", "ship", "aircraft carrier"]
    assert [o.attributes["seg_color"] for o in image.objects] == [(255, 0, 0), (0, 128, 255), None]
    red, blue, none = source.gt_masks(image)
    assert none is None and red.shape == (30, 40) and red.dtype == bool
    expected_red = np.zeros((30, 40), bool)
    expected_red[3:9, 2:12] = True
    np.testing.assert_array_equal(red, expected_red)
    assert blue.sum() == 15 * 15 and blue[10, 20] and blue[24, 34] and not blue[25, 35]
    assert source.gt_masks(source.load("2")) == [None]  # coloured ship, but no segmentation PNG
    Image.new("RGB", (20, 30)).save(hrsc_root / "FullDataSet" / "Segmentations" / "1.png")
    with pytest.raises(AnnotationError, match=r"1\.png: segmentation is 20x30, its image 40x30"):
        source.gt_masks(image)
    (hrsc_root / "FullDataSet" / "Segmentations" / "1.png").write_bytes(b"\x89PNG")
    with pytest.raises(ImageReadError, match=r"1\.png: cannot read image"):
        source.gt_masks(image)


def test_ablation_ids_and_splits(hrsc_root):
    assert HRSC2016(hrsc_root).ablation_ids() == ["1"]  # 2 has no PNG, 3 is not a test image
    assert HRSC2016(hrsc_root, split="test").image_ids() == ["1", "2"]
    assert HRSC2016(hrsc_root, split="trainval").image_ids() == ["3"]
    assert HRSC2016(hrsc_root, split="all").image_ids() == ["1", "2", "3"]
    with pytest.raises(FileNotFoundError, match=r"train\.txt not found \(split 'train'\); split='all' \(--split all\)"):
        HRSC2016(hrsc_root, split="train")
    (hrsc_root / "ImageSets" / "test.txt").unlink()
    assert HRSC2016(hrsc_root).ablation_ids() == ["1", "3"]  # no test list: every image of the source


def test_errors_name_the_file(tmp_path):
    _write_image(tmp_path, "7", _object_xml(100000099, (1, 1, 5, 5), "") + _object_xml(100000001, (1, 1, 5, 5), ""))
    with pytest.raises(AnnotationError, match=r"7\.xml: HRSC_Object 1: unknown Class_ID '100000099'") as info:
        HRSC2016(tmp_path).load("7")
    assert info.value.reason == "unknown_class"
    source = HRSC2016(tmp_path, skip_bad=True)
    assert [o.category for o in source.load("7").objects] == ["ship"]
    assert source.report.counts == {"unknown_class": 1}
    (tmp_path / "Annotations" / "7.xml").write_text("<HRSC_Image><HRSC_Objects>")
    with pytest.raises(AnnotationError, match=r"7\.xml:1: malformed XML"):
        read_hrsc_xml(tmp_path / "Annotations" / "7.xml")
    (tmp_path / "AllImages" / "7.bmp").unlink()
    with pytest.raises(AnnotationError, match=r"7\.xml: no image 7\.\* in .*AllImages"):
        HRSC2016(tmp_path).load("7")


def test_negative_rbox_sides_are_malformed(tmp_path):
    """mbox_w = mbox_h = -10 would multiply to a positive area: it is an error, not a box."""
    flipped = _object_xml(100000001, (1, 1, 11, 11), "").replace("<mbox_w>10</mbox_w>", "<mbox_w>-10</mbox_w>")
    _write_image(tmp_path, "7", flipped.replace("<mbox_h>10</mbox_h>", "<mbox_h>-10</mbox_h>"))
    with pytest.raises(AnnotationError, match=r"7\.xml: HRSC_Object 1: negative <mbox_w> or <mbox_h> \(-10 x -10\)"):
        HRSC2016(tmp_path).load("7")
