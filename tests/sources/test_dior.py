from collections import Counter

import numpy as np
import pytest
from PIL import Image

from samrs_hf.sources import AnnotationError
from samrs_hf.sources.dior import DIOR, read_dior_xml

HBB, OBB = "Horizontal Bounding Boxes", "Oriented Bounding Boxes"


def _obb_object(name, corners, angle="0"):
    tags = "".join(
        f"<x_{c}>{x}</x_{c}><y_{c}>{y}</y_{c}>"
        for c, (x, y) in zip(("left_top", "right_top", "right_bottom", "left_bottom"), corners)
    )
    return f"<object><type>robndbox</type><name>{name}</name><robndbox>{tags}</robndbox><angle>{angle}</angle></object>"


def _make_dior(root, image_id, objects_xml, image_folder="JPEGImages", declaration=True, newline="\n"):
    (root / "Annotations" / OBB).mkdir(parents=True, exist_ok=True)
    (root / image_folder).mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30)).save(root / image_folder / f"{image_id}.jpg")
    header = '<?xml version="1.0" encoding="UTF-8"?>' + newline if declaration else ""
    size = "<size><width>800</width><height>800</height></size>"
    body = f"<annotation>{newline}{size}{newline}{objects_xml}{newline}</annotation>"
    (root / "Annotations" / OBB / f"{image_id}.xml").write_bytes((header + body).encode())


SQUARE = [(10, 10), (50, 10), (50, 50), (10, 50)]


def test_oriented_00001_with_its_image(fixtures_dir):
    image = DIOR(fixtures_dir / "dior").load("00001")
    assert (image.width, image.height, image.image_path.name) == (800, 800, "00001.jpg")
    (golf,) = image.objects
    assert golf.category == "golffield" and golf.attributes == {"angle_deg": 0.0}
    np.testing.assert_array_equal(golf.polygon, [[133, 237], [684, 237], [684, 672], [133, 672]])
    np.testing.assert_array_equal(golf.hbox, [133, 237, 684, 672])
    np.testing.assert_allclose(golf.rbox, [408.5, 454.5, 551, 435, 0], atol=1e-9)


def test_horizontal_mode_reads_the_voc_file(fixtures_dir):
    (golf,) = DIOR(fixtures_dir / "dior", oriented=False).load("00001").objects
    assert (golf.category, golf.polygon, golf.rbox) == ("golffield", None, None)
    np.testing.assert_array_equal(golf.hbox, [133, 237, 684, 672])
    hbb = read_dior_xml(fixtures_dir / "dior" / "Annotations" / HBB / "00008.xml", oriented=False)
    assert b"\r\n" in (fixtures_dir / "dior" / "Annotations" / HBB / "00008.xml").read_bytes()
    assert hbb.size == (800, 800)
    np.testing.assert_array_equal(hbb.objects[0].hbox, [20, 121, 153, 261])


def test_00008_out_of_image_corners_are_kept_as_annotated(fixtures_dir):
    annotations = fixtures_dir / "dior" / "Annotations"
    obb = read_dior_xml(annotations / OBB / "00008.xml")
    hbb = read_dior_xml(annotations / HBB / "00008.xml", oriented=False)
    assert (
        Counter(o.category for o in obb.objects)
        == Counter(o.category for o in hbb.objects)
        == {"airplane": 7, "vehicle": 4}
    )
    vehicle = obb.objects[3]
    assert vehicle.category == "vehicle" and vehicle.attributes["angle_deg"] == -34.0
    np.testing.assert_array_equal(vehicle.polygon, [[178, 790], [191, 782], [203, 800], [191, 808]])
    assert vehicle.hbox[3] == 808 > obb.size[1]
    # the two files list objects in different orders: the first OBB airplane is the fifth HBB one
    np.testing.assert_array_equal(obb.objects[0].hbox, [149, 461, 252, 550])
    np.testing.assert_array_equal(hbb.objects[4].hbox, [147, 457, 255, 555])


def test_float_angles(fixtures_dir):
    angles = [
        o.attributes["angle_deg"]
        for o in read_dior_xml(fixtures_dir / "dior" / "Annotations" / OBB / "00968.xml").objects
    ]
    assert len(angles) == 8 and -14.8 in angles


def test_missing_image(fixtures_dir):
    with pytest.raises(AnnotationError, match=r"00008\.xml: no image 00008") as info:
        DIOR(fixtures_dir / "dior").load("00008")
    assert info.value.reason == "missing_image"
    source = DIOR(fixtures_dir / "dior", skip_bad=True)
    assert [image.image_id for image in source] == ["00001"]
    assert source.report.counts == {"missing_image": 2}


@pytest.mark.parametrize("declaration, newline", [(True, "\n"), (False, "\r\n")])
def test_class_names_map_case_insensitively(tmp_path, declaration, newline):
    objects = "".join(
        _obb_object(n, SQUARE) for n in ("Expressway-Service-area", "expressway-toll-station", "AirPlane")
    )
    _make_dior(tmp_path, "00001", objects, declaration=declaration, newline=newline)
    categories = [o.category for o in DIOR(tmp_path).load("00001").objects]
    assert categories == ["Expressway-Service-area", "Expressway-toll-station", "airplane"]


def test_split_lists_and_image_folders(tmp_path):
    for image_id, folder in (
        ("00001", "JPEGImages-trainval"),
        ("00002", "JPEGImages-trainval"),
        ("00003", "JPEGImages-test"),
    ):
        _make_dior(tmp_path, image_id, _obb_object("ship", SQUARE), image_folder=folder)
    lists = tmp_path / "ImageSets" / "Main"
    lists.mkdir(parents=True)
    for split, ids in (("train", "00001"), ("val", "00002"), ("test", "00003")):
        (lists / f"{split}.txt").write_text(ids + "\n")
    assert DIOR(tmp_path, split="trainval").image_ids() == ["00001", "00002"]
    test = list(DIOR(tmp_path, split="test"))
    assert [(i.image_id, i.split, i.image_path.parent.name) for i in test] == [("00003", "test", "JPEGImages-test")]
    assert DIOR(tmp_path).image_ids() == ["00001", "00002", "00003"]
    (lists / "val.txt").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"val\.txt not found \(split 'trainval'\); split='all' \(--split all\)"
    ):
        DIOR(tmp_path, split="trainval")
    assert DIOR(tmp_path, split="all").image_ids() == ["00001", "00002", "00003"]


def test_errors_name_the_file(tmp_path):
    _make_dior(tmp_path, "00001", _obb_object("ship", SQUARE) + "<object><name>ship</name")
    with pytest.raises(AnnotationError, match=r"00001\.xml:\d+: malformed XML"):
        DIOR(tmp_path).load("00001")
    _make_dior(tmp_path, "00002", _obb_object("castle", SQUARE) + _obb_object("ship", SQUARE, angle="n/a"))
    with pytest.raises(AnnotationError, match=r"00002\.xml: object 1: unknown class 'castle'"):
        DIOR(tmp_path).load("00002")
    source = DIOR(tmp_path, skip_bad=True)
    assert [(image.image_id, image.objects) for image in source] == [("00002", [])]
    assert source.report.counts == {"malformed": 2, "unknown_class": 1}
    assert any("object 2: <angle> is 'n/a', not a number" in m for m in source.report.messages)


def test_huge_numbers_and_sizes(tmp_path):
    """Coordinates beyond ±1e6 px are malformed (1e308 would overflow the box areas); a stated size that is
    not a sane integer gives way to the image header's."""
    _make_dior(tmp_path, "00001", _obb_object("ship", [(1e300, 10), *SQUARE[1:]]) + _obb_object("ship", SQUARE))
    with pytest.raises(AnnotationError, match=r"00001\.xml: object 1: <x_left_top> is '1e\+300', beyond ±1000000"):
        DIOR(tmp_path).load("00001")
    xml_path = tmp_path / "Annotations" / OBB / "00001.xml"
    xml_path.write_text(xml_path.read_text().replace("<width>800</width>", f"<width>{'9' * 400}</width>"))
    image = DIOR(tmp_path, skip_bad=True).load("00001")
    assert (image.width, image.height, len(image.objects)) == (40, 30, 1)  # the JPEG's size
