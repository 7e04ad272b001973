from collections import Counter

import numpy as np
import pytest
from PIL import Image

from samrs_hf.sources import AnnotationError
from samrs_hf.sources.fair1m import FAIR1M, read_fair1m_xml


def _link_scene(folder, xml_path):
    """``folder/labelXml/<id>.xml`` -> a real fixture XML, with a tiny stand-in ``images/<id>.tif``."""
    (folder / "labelXml").mkdir(parents=True, exist_ok=True)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labelXml" / xml_path.name).symlink_to(xml_path)
    Image.new("RGB", (8, 8)).save(folder / "images" / f"{xml_path.stem}.tif")


def _write_scene(folder, image_id, objects_xml, size=(100, 80)):
    (folder / "labelXml").mkdir(parents=True, exist_ok=True)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8)).save(folder / "images" / f"{image_id}.tif")
    size_xml = f"<size><width>{size[0]}</width><height>{size[1]}</height></size>"
    xml = f"<annotation>{size_xml}<objects>{objects_xml}</objects></annotation>"
    (folder / "labelXml" / f"{image_id}.xml").write_text(xml)


def _object(name, points):
    ring = "".join(f"<point>{p}</point>" for p in points)
    return f"<object><possibleresult><name>{name}</name></possibleresult><points>{ring}</points></object>"


BOX = ["10.0,10.0", "30.0,10.0", "30.0,20.0", "10.0,20.0", "10.0,10.0"]


def test_first_object_of_0_xml(fixtures_dir):
    annotation = read_fair1m_xml(fixtures_dir / "fair1m" / "labelXml" / "0.xml")
    assert annotation.size == (1500, 1500)
    assert [o.category for o in annotation.objects] == ["Liquid Cargo Ship", "Passenger Ship", "Dry Cargo Ship"]
    first = annotation.objects[0]  # closed ring of 5 points; the repeated last one is dropped
    np.testing.assert_array_equal(first.polygon, [[1275, 458], [1494, 88], [1417, 43], [1199, 414]])
    np.testing.assert_array_equal(first.hbox, [1199, 43, 1494, 458])


def test_class_counts(fixtures_dir):
    folder = fixtures_dir / "fair1m" / "labelXml"
    assert Counter(o.category for o in read_fair1m_xml(folder / "505.xml").objects) == {
        "other-ship": 2,
        "Roundabout": 1,
    }
    annotation = read_fair1m_xml(folder / "813.xml")
    assert annotation.size == (1000, 1000)
    assert Counter(o.category for o in annotation.objects) == {
        "Basketball Court": 3,
        "Intersection": 3,
        "A220": 2,
        "Football Field": 2,
        "A321": 1,
        "Boeing737": 1,
        "Tennis Court": 1,
    }


def test_merged_splits_get_prefixes_and_keep_partly_outside_objects(tmp_path, fixtures_dir):
    labels = fixtures_dir / "fair1m" / "labelXml"
    _link_scene(tmp_path / "train", labels / "0.xml")
    _link_scene(tmp_path / "train", labels / "505.xml")
    _link_scene(tmp_path / "validation" / "part1", labels / "0.xml")  # same file name in both splits
    source = FAIR1M(tmp_path)
    assert source.image_ids() == ["train_0", "train_505", "valid_0"]
    image = source.load("valid_0")
    assert (image.width, image.height, image.split) == (1500, 1500, "validation")  # size from <size>
    assert image.objects[2].hbox[3] == 1531  # the Dry Cargo Ship reaches below the image: kept for tiling
    assert FAIR1M(tmp_path, split="train").image_ids() == ["0", "505"]
    assert FAIR1M(tmp_path, split="val").image_ids() == ["0"]
    assert FAIR1M(tmp_path, split="trainval").image_ids() == source.image_ids()


def test_degenerate_and_outside_objects_are_dropped_and_counted(tmp_path):
    objects = [
        _object("Bus", BOX),
        _object("Bus", ["5.0,5.0"] * 5),
        _object("Van", ["1.0,1.0", "2.0,2.0", "3.0,3.0", "4.0,4.0", "1.0,1.0"]),
        _object("Van", ["200.0,10.0", "220.0,10.0", "220.0,20.0", "200.0,20.0", "200.0,10.0"]),
    ]
    _write_scene(tmp_path, "1", "".join(objects))
    source = FAIR1M(tmp_path)
    assert [o.category for o in source.load("1").objects] == ["Bus"]
    assert source.report.counts == {"degenerate": 2, "outside_image": 1}


def test_errors_name_the_file_and_object(tmp_path):
    _write_scene(
        tmp_path, "1", _object("Spaceship", BOX) + _object("Bus", ["10.0;10.0", *BOX[1:]]) + _object("Van", BOX)
    )
    with pytest.raises(AnnotationError, match=r"1\.xml: object 1: unknown class 'Spaceship'"):
        FAIR1M(tmp_path).load("1")
    source = FAIR1M(tmp_path, skip_bad=True)
    assert [o.category for o in source.load("1").objects] == ["Van"]
    assert source.report.counts == {"unknown_class": 1, "malformed": 1}
    assert "object 2: <point> is '10.0;10.0', not 'x,y'" in source.report.messages[1]
    (tmp_path / "images" / "1.tif").unlink()
    with pytest.raises(AnnotationError, match=r"1\.xml: no image 1\.\*") as info:
        FAIR1M(tmp_path).load("1")
    assert info.value.reason == "missing_image"
    (tmp_path / "labelXml" / "1.xml").write_text("<annotation><objects></annotation>")
    with pytest.raises(AnnotationError, match=r"1\.xml:1: malformed XML"):
        read_fair1m_xml(tmp_path / "labelXml" / "1.xml")


def test_unknown_split_and_missing_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="no FAIR1M labelXml"):
        FAIR1M(tmp_path)
    with pytest.raises(ValueError, match="unknown FAIR1M split 'dev'"):
        FAIR1M(tmp_path, split="dev")


def test_size_falls_back_to_the_image_header(tmp_path):
    """FAIR1M XMLs state ``<size>``; when it is missing or not a positive integer the TIF header gives it."""
    _write_scene(tmp_path, "1", _object("Bus", ["1,1", "5,1", "5,5", "1,5"]), size=(-5, 80))
    assert read_fair1m_xml(tmp_path / "labelXml" / "1.xml").size is None
    image = FAIR1M(tmp_path).load("1")
    assert (image.width, image.height) == (8, 8) and [o.category for o in image.objects] == ["Bus"]
    with pytest.raises(ValueError, match="unknown FAIR1M split 'dev'; choose train, validation, trainval or all"):
        FAIR1M(tmp_path, split="dev")
    assert FAIR1M(tmp_path, split="all").image_ids() == ["1"]
    with pytest.raises(FileNotFoundError, match=r"no FAIR1M labelXml folder in .*train; split='all' \(--split all\)"):
        FAIR1M(tmp_path, split="train")
