from collections import Counter

import numpy as np
import pytest
from PIL import Image

from samrs_hf.classes import DOTA_V2_CLASSES
from samrs_hf.geometry import polygon_to_hbox, rbox_to_polygon
from samrs_hf.records import SourceObject
from samrs_hf.sources import AnnotationError
from samrs_hf.sources.base import raise_error
from samrs_hf.sources.dota import DOTA, read_dota_labels, write_dota_labels


def _make_scene(folder, image_id, lines, suffix=".png", size=(64, 48)):
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labelTxt").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size).save(folder / "images" / f"{image_id}{suffix}")
    (folder / "labelTxt" / f"{image_id}.txt").write_text("".join(line + "\n" for line in lines))


def test_p1888_objects_match_the_file(fixtures_dir):
    label_path = fixtures_dir / "dota" / "labelTxt" / "P1888.txt"
    assert b"\r\n" in label_path.read_bytes()
    image = DOTA(fixtures_dir / "dota").load("P1888")
    assert (image.width, image.height) == (712, 557)
    assert image.image_path.name == "P1888.png" and image.source == "dota"
    assert Counter(o.category for o in image.objects) == {"large-vehicle": 50, "small-vehicle": 14}
    rows = [line.split() for line in label_path.read_text().splitlines()[2:]]
    for obj, row in zip(image.objects, rows, strict=True):
        np.testing.assert_array_equal(obj.polygon.ravel(), [float(v) for v in row[:8]])
        assert obj.category == row[8] and obj.difficult is False
    first = image.objects[0]  # "674 375 683 375 684 394 675 395 small-vehicle 0"
    np.testing.assert_array_equal(first.polygon, [[674, 375], [683, 375], [684, 394], [675, 395]])
    np.testing.assert_array_equal(first.hbox, [674, 375, 684, 395])
    # rbox: the minimum-area rectangle holding the quad's corners
    corners = rbox_to_polygon(first.rbox)
    assert first.rbox[2] * first.rbox[3] >= 9 * 19
    assert np.all(polygon_to_hbox(corners)[:2] <= first.hbox[:2] + 1e-6)
    assert np.all(polygon_to_hbox(corners)[2:] >= first.hbox[2:] - 1e-6)


def test_header_lines_and_label_only_files(fixtures_dir):
    labels = read_dota_labels(fixtures_dir / "dota" / "labelTxt" / "P1888.txt")
    assert labels.header == {"imagesource": "GoogleEarth", "gsd": "0.266170468393"}
    p0770 = read_dota_labels(fixtures_dir / "dota" / "labelTxt" / "P0770.txt")
    assert Counter(o.category for o in p0770.objects) == {
        "tennis-court": 10,
        "swimming-pool": 9,
        "baseball-diamond": 2,
        "ground-track-field": 1,
    }
    np.testing.assert_array_equal(p0770.objects[0].polygon.ravel(), [856, 696, 1469, 1008, 1341, 1298, 716, 988])
    p1088 = read_dota_labels(fixtures_dir / "dota" / "labelTxt" / "P1088.txt")
    assert Counter(o.category for o in p1088.objects) == {"plane": 22, "small-vehicle": 9, "large-vehicle": 3}


def test_float_tile_labels(fixtures_dir):
    labels = read_dota_labels(fixtures_dir / "dota" / "labelTxt" / "P2805__1024__0___0.txt")
    assert labels.header == {} and [o.category for o in labels.objects] == ["plane"] * 4
    np.testing.assert_array_equal(
        labels.objects[0].polygon, [[359.0, 663.0], [369.0, 497.0], [543.0, 509.0], [531.0, 677.0]]
    )


def test_missing_image_raises_and_skip_bad_reports(fixtures_dir):
    with pytest.raises(AnnotationError, match=r"P0770\.txt: no image P0770") as info:
        DOTA(fixtures_dir / "dota").load("P0770")
    assert info.value.reason == "missing_image"
    source = DOTA(fixtures_dir / "dota", skip_bad=True)
    images = {image.image_id: image for image in source}
    assert set(images) == {"P1888", "P2805__1024__0___0"}
    # the tile's PNG was shrunk to 170x170 while its labels stay in the 1024 frame: all outside
    assert (images["P2805__1024__0___0"].width, images["P2805__1024__0___0"].objects) == (170, [])
    assert source.report.counts == {"missing_image": 2, "outside_image": 4}


def test_synthetic_fixture_empty_file_self_intersecting_quad_and_difficult(fixtures_dir):
    folder = fixtures_dir / "dota_synthetic" / "labelTxt"
    assert read_dota_labels(folder / "P0004__1__0___1024.txt").objects == []
    objects = read_dota_labels(folder / "P0004__1__0___0.txt").objects
    assert [o.difficult for o in objects] == [False, False, True, False]
    bowtie = objects[3]  # "126 191 128 171 123 178 221 199": edges cross
    assert bowtie.rbox[2] * bowtie.rbox[3] > 0
    np.testing.assert_array_equal(bowtie.hbox, [123, 171, 221, 199])
    image = DOTA(fixtures_dir / "dota_synthetic", skip_bad=True).load("P0004__1__0___0")
    assert (image.width, image.height) == (285, 294) and len(image.objects) == 1  # 3 lie beyond the crop


def test_version_selects_class_list(tmp_path):
    _make_scene(tmp_path, "s", ["1 1 9 1 9 9 1 9 plane 0", "2 2 8 2 8 8 2 8 container-crane 0"])
    assert DOTA(tmp_path, version="1.0").classes == DOTA_V2_CLASSES[:15]
    assert len(DOTA(tmp_path, version="1.5").classes) == 16
    with pytest.raises(ValueError, match="unknown DOTA version"):
        DOTA(tmp_path, version="3.0")
    with pytest.raises(AnnotationError, match=r"s\.txt:2: unknown class 'container-crane'") as info:
        DOTA(tmp_path, version="1.0").load("s")
    assert info.value.reason == "unknown_class"
    assert [o.category for o in DOTA(tmp_path, version="1.5").load("s").objects] == ["plane", "container-crane"]


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("1 2 3 4 5 6 plane 0", "expected 8 coordinates"),
        ("1 2 3 4 5 6 7 nan plane 0", "coordinates must be finite numbers"),
        ("1 2 3 4 5 6 7 x plane 0", "coordinates must be finite numbers"),
        ("1 2 3 4 5 6 7 1e308 plane 0", r"coordinates must be finite numbers within ±1000000, .* \(beyond ±1000000\)"),
        ("1 1 9 1 9 9 1 9 plane 2", "difficult flag must be 0 or 1"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, bad_line, message):
    _make_scene(tmp_path, "bad", ["gsd:0.5", "1 1 9 1 9 9 1 9 plane 0", bad_line, "2 2 8 2 8 8 2 8 ship 1"])
    with pytest.raises(AnnotationError, match=rf"bad\.txt:3: {message}"):
        DOTA(tmp_path).load("bad")
    source = DOTA(tmp_path, skip_bad=True)
    assert [o.category for o in source.load("bad").objects] == ["plane", "ship"]
    assert source.report.counts == {"malformed": 1} and "bad.txt:3" in source.report.messages[0]


def test_degenerate_boxes_are_dropped_and_counted(tmp_path):
    _make_scene(tmp_path, "d", ["5 5 5 5 5 5 5 5 plane 0", "1 1 9 9 1 1 9 9 ship 0", "1 1 9 1 9 9 1 9 ship 0"])
    source = DOTA(tmp_path)
    assert len(source.load("d").objects) == 1
    assert source.report.counts == {"degenerate": 2}


def test_split_layouts_and_image_formats(tmp_path):
    _make_scene(tmp_path / "train", "a", ["1 1 9 1 9 9 1 9 plane 0"], ".jpg")
    _make_scene(tmp_path / "train", "b", [], ".tif", size=(30, 20))
    _make_scene(tmp_path / "val", "c", ["1 1 9 1 9 9 1 9 ship 1"], ".bmp")
    assert DOTA(tmp_path, split="train").image_ids() == ["a", "b"]
    merged = list(DOTA(tmp_path, split="trainval"))
    assert [(i.image_id, i.image_path.suffix, i.split) for i in merged] == [
        ("a", ".jpg", "trainval"),
        ("b", ".tif", "trainval"),
        ("c", ".bmp", "trainval"),
    ]
    assert (merged[1].width, merged[1].height, merged[1].objects) == (30, 20, [])
    with pytest.raises(
        FileNotFoundError, match=r"labelTxt not found; for split folders .* split='train' \(--split train\)"
    ):
        DOTA(tmp_path)  # no flat root/labelTxt
    with pytest.raises(
        FileNotFoundError, match=r"test/labelTxt not found; pass split='all' \(--split all\) to read a flat"
    ):
        DOTA(tmp_path, split="test")
    _make_scene(tmp_path, "flat", [])
    assert DOTA(tmp_path, split="all").image_ids() == DOTA(tmp_path).image_ids() == ["flat"]


def test_write_dota_labels_round_trips(tmp_path):
    polygon = np.array([[10.5, 20.0], [40.0, 22.25], [38.0, 50.0], [9.0, 48.0]])
    objects = [
        SourceObject("plane", polygon_to_hbox(polygon), polygon=polygon),
        SourceObject(
            "ship", np.array([1.0, 2.0, 3.0, 4.0]), rbox=np.array([30.0, 30.0, 20.0, 6.0, 0.3]), difficult=True
        ),
        SourceObject("harbor", np.array([5.0, 6.0, 25.0, 16.0])),
    ]
    path = write_dota_labels(tmp_path / "labelTxt" / "s.txt", objects, header={"imagesource": "synthetic", "gsd": 0.5})
    assert path.read_text().splitlines()[:3] == [
        "imagesource:synthetic",
        "gsd:0.5",
        "10.5 20 40 22.25 38 50 9 48 plane 0",
    ]
    labels = read_dota_labels(path)
    assert labels.header == {"imagesource": "synthetic", "gsd": "0.5"}
    assert [(o.category, o.difficult) for o in labels.objects] == [("plane", False), ("ship", True), ("harbor", False)]
    np.testing.assert_array_equal(labels.objects[0].polygon, polygon)
    np.testing.assert_allclose(labels.objects[1].polygon, rbox_to_polygon(objects[1].rbox), atol=1e-12)
    np.testing.assert_array_equal(labels.objects[2].hbox, [5, 6, 25, 16])


def test_huge_scene_size_is_read(tmp_path):
    """DOTA scenes reach 20000x20000, past PIL's decompression-bomb guard: their size must still be read."""
    from PIL import Image

    from samrs_hf.sources.base import image_size

    path = tmp_path / "P9999.png"
    Image.new("1", (14000, 14000)).save(path)  # 196 Mpx > 2 x PIL's default limit
    assert image_size(path, tmp_path / "P9999.txt") == (14000, 14000)


def test_bom_line_endings_and_bad_bytes_keep_editor_line_numbers(tmp_path):
    """A UTF-8 BOM is no part of the first line; only CR, LF and CRLF end lines (not form feeds or U+2028),
    and a byte that is not UTF-8 is reported on its line."""
    _make_scene(tmp_path, "s", [])
    path = tmp_path / "labelTxt" / "s.txt"
    path.write_bytes(b"\xef\xbb\xbfimagesource:GoogleEarth\rgsd:0.5\r\n1 1 9 1 9 9 1 9 plane 0\n")
    labels = read_dota_labels(path)
    assert labels.header == {"imagesource": "GoogleEarth", "gsd": "0.5"} and len(labels.objects) == 1
    path.write_bytes("gsd:0.5\n1 1 9 1 9\x0c9 1 9 plane 0\n1 1 9 1 9 9 1 9 ship\u2028 0\n1 2 plane\n".encode())
    with pytest.raises(AnnotationError, match=r"s\.txt:4: expected 8 coordinates"):
        read_dota_labels(path, on_error=lambda error: None if error.line != 4 else raise_error(error))
    path.write_bytes(b"gsd:0.5\r\n1 1 9 1 9 9 1 9 plane 0\r\n1 1 9 1 9 9 1 9 sh\xe9p 0\r\n")
    with pytest.raises(AnnotationError, match=r"s\.txt:3: not UTF-8 text: byte 0xe9 \(invalid continuation byte\)"):
        DOTA(tmp_path).load("s")
    source = DOTA(tmp_path, skip_bad=True)
    assert list(source) == [] and source.report.counts == {"malformed": 1}
