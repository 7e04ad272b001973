"""``samrs compare``: per-class pixel IoU, mIoU and instance IoU of two SAMRS folders, checked against hand counts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from masks_and_boxes import encode_rle
from samrs_folders import overlap_row, samrs_object, samrs_row, write_samrs

from samrs_hf.cli import main
from samrs_hf.dataset.compare import InstanceAgreement, box_iou, compare_folders, match_boxes, report_paths

SIZE = 64


def _square(rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[rows[0] : rows[1], cols[0] : cols[1]] = True
    return mask


def _row(name: str, shapes: list[tuple[int, np.ndarray, list[float]]]) -> dict:
    """A row whose semantic map paints ``shapes`` (category, mask, prompt box) in order over 255."""
    semantic = np.full((SIZE, SIZE), 255, dtype=np.uint8)
    for category, mask, _ in shapes:
        semantic[mask] = category
    objects = [samrs_object(mask, category, box, score=1.0) for category, mask, box in shapes]
    return samrs_row(name, np.zeros((SIZE, SIZE, 3), np.uint8), semantic, objects, f"{name}.png")


# A: a 32x32 class-1 square at rows/cols 8-39 and an 8x8 class-3 square at rows/cols 30-37 painted over it.
# B: the class-1 mask is 4 columns narrower (rows 8-39, cols 8-35: 896 px) under the same prompt box widened by
#    0.1 px (box IoU 1024 / 1027.2 = 0.9969: paired at 0.99), and the class-3 square moved 4 columns right
#    (cols 34-41; its box IoU 32 / 96 with A's: not paired). Plus one tile only in A and one only in B.
ROWS_A = [
    _row("T0", [(1, _square((8, 40), (8, 40)), [8, 8, 40, 40]), (3, _square((30, 38), (30, 38)), [30, 30, 38, 38])]),
    _row("ONLY_A", []),
]
ROWS_B = [
    _row("T0", [(1, _square((8, 40), (8, 36)), [8, 8, 40, 40.1]), (3, _square((30, 38), (34, 42)), [34, 30, 42, 38])]),
    _row("ONLY_B", []),
]


def _write(root, rows):
    return write_samrs(root, {"sota": {"train": len(rows)}}, make_row=lambda index, _: rows[index])


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("compare")
    return _write(base / "a", ROWS_A), _write(base / "b", ROWS_B)


def test_identical_folders_agree_fully(tmp_path):
    a = write_samrs(tmp_path / "a", {"sota": {"train": 3}}, make_row=overlap_row)
    report = compare_folders(a, a, "sota")
    assert report["semantic"]["mIoU"] == 100 and report["semantic"]["pixel_agreement"] == 100
    assert report["instances"]["mean_iou"] == 100 and report["instances"]["paired"] == 6
    assert report["tiles"]["compared"] == 3 and report["tiles"]["only_a"] == report["tiles"]["only_b"] == 0
    present = [c for c in report["semantic"]["classes"] if c["iou"] is not None]
    assert [c["index"] for c in present] == [1, 3]  # classes in neither folder have no IoU


def test_a_perturbed_copy_gives_the_hand_counted_numbers(folders):
    a, b = folders
    report = compare_folders(a, b, "sota")
    # class 1: A has the big square less A's small one (1024 - 64 = 960 px); B has rows 8-39 x cols 8-35 less B's
    # small square there (rows 30-37 x cols 34-35: 16 px) = 880. Both: rows 8-39 x cols 8-35 (896) less
    # rows 30-37 x cols 30-35 (48) = 848, so IoU 848 / (960 + 880 - 848) = 848 / 992.
    # class 3: both squares are 64 px and share rows 30-37 x cols 34-37 = 32 px: IoU 32 / 96.
    iou_1, iou_3 = 848 / 992, 32 / 96
    classes = {c["index"]: c for c in report["semantic"]["classes"]}
    assert classes[1]["iou"] == pytest.approx(100 * iou_1) and classes[3]["iou"] == pytest.approx(100 * iou_3)
    assert (classes[1]["pixels_a"], classes[1]["pixels_b"], classes[3]["pixels_a"]) == (960, 880, 64)
    assert report["semantic"]["mIoU"] == pytest.approx(100 * (iou_1 + iou_3) / 2)
    # labelled in A: 1024; in B: 896 + 48 (the small square's part right of col 35) = 944; in both: 896 + 32 = 928.
    # Same class on 848 + 32 of the 1024 + 944 - 928 = 1040 pixels labelled in either map.
    assert report["semantic"]["pixel_agreement"] == pytest.approx(100 * 880 / 1040)
    # unlabelled: 4096 - 1024 = 3072 in A, 4096 - 944 = 3152 in B, 4096 - 1040 = 3056 in both.
    assert report["semantic"]["unlabelled_iou"] == pytest.approx(100 * 3056 / (3072 + 3152 - 3056))
    instances = report["instances"]
    assert (instances["a"], instances["b"], instances["paired"], instances["only_a"], instances["only_b"]) == (
        2, 2, 1, 1, 1,
    )  # fmt: skip
    assert instances["mean_iou"] == pytest.approx(100 * 896 / 1024) == instances["pixel_iou"]
    tiles = report["tiles"]
    assert (tiles["compared"], tiles["only_a_ids"], tiles["only_b_ids"]) == (1, ["ONLY_A"], ["ONLY_B"])
    stricter = compare_folders(a, b, "sota", box_iou=0.999)["instances"]
    assert stricter["paired"] == 0 and stricter["mean_iou"] is None


def test_box_matching_is_one_to_one_from_the_best_iou():
    a = [[0, 0, 10, 10], [0, 0, 10, 10.03], [5, 5, 5, 5]]
    b = [[0, 0, 10, 10.02], [5, 5, 5, 5], [50, 50, 60, 60]]
    assert box_iou([[5, 5, 5, 5]], [[5, 5, 5, 5]]).tolist() == [[1.0]]  # equal degenerate boxes pair
    assert sorted(match_boxes(a, b, 0.99)) == [(1, 0), (2, 1)]  # IoU 100.2 / 100.3 beats 100 / 100.2; box 0 is left


def test_category_disagreements_are_counted_per_pair():
    mask = _square((0, 4), (0, 4))
    first = {"category": 2, "segmentation": encode_rle(mask), "prompt_box": [0, 0, 4, 4]}
    agreement = InstanceAgreement(num_classes=5)
    agreement.add([first], [first | {"category": 4}])
    scores = agreement.scores(tuple("abcde"))
    assert (scores["paired"], scores["category_mismatch"], scores["mean_iou"]) == (1, 1, 100)
    assert scores["classes"][2]["paired"] == 1 and scores["classes"][4]["paired"] == 0  # counted under A's category


def test_cli_writes_markdown_and_json(folders, tmp_path, capsys):
    a, b = folders
    argv = ["compare", str(a), str(b), "--config", "sota", "--out", str(tmp_path / "report")]
    assert main(argv) == 0
    assert "compared 1 tiles" in capsys.readouterr().out
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["semantic"]["mIoU"] == pytest.approx(100 * (848 / 992 + 32 / 96) / 2)
    markdown = (tmp_path / "report.md").read_text()
    assert "| 1 | swimming-pool | 85.48 | 960 | 880 |" in markdown and "`ONLY_B`" in markdown
    assert main(argv) == 1 and "pass --overwrite" in capsys.readouterr().err
    assert main(argv + ["--overwrite"]) == 0
    assert report_paths(tmp_path, "sota", "train") == (
        tmp_path / "compare_sota_train.md",
        tmp_path / "compare_sota_train.json",
    )
    assert main(["compare", str(a), str(tmp_path / "missing"), "--config", "sota", "--out", str(tmp_path)]) == 1
    assert "missing: no such folder" in capsys.readouterr().err


def test_folders_without_a_common_tile_are_one_line_with_the_counts(folders, tmp_path, capsys):
    a, _ = folders
    c = _write(tmp_path / "c", [_row("OTHER_1", []), _row("OTHER_2", []), _row("OTHER_3", [])])
    assert main(["compare", str(a), str(c), "--config", "sota", "--out", str(tmp_path / "report")]) == 1
    err = capsys.readouterr().err  # datasets' progress bars, then the one line
    assert err.endswith(
        f"\nsamrs compare: error: no sota/train tile of {a} and {c} can be compared: no image id in common, "
        "2 only in A (e.g. T0), 3 only in B (e.g. OTHER_1); compare folders built from the same source images\n"
    )
    assert not list(tmp_path.glob("report*"))
