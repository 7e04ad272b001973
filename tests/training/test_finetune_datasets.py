"""Potsdam and iSAID readers: released colour labels, mmsegmentation index PNGs, tiling, fractions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samrs_hf.records import ImageReadError
from samrs_hf.training.data import SceneTiles, fraction_indices
from samrs_hf.training.finetune_datasets import ISAID, POTSDAM, decode_label, find_scenes

INDEX_TO_COLOR = {
    0: (0, 0, 0),
    1: (255, 255, 255),
    2: (0, 0, 255),
    3: (0, 255, 255),
    4: (0, 255, 0),
    5: (255, 255, 0),
    6: (255, 0, 0),
}  # the fixture's index table (isprs_potsdam_vaihingen_classes.txt)


@pytest.fixture
def potsdam_fixture(fixtures_dir) -> Path:
    return fixtures_dir / "potsdam"


def test_mmseg_index_png(potsdam_fixture):
    (scene,) = find_scenes(potsdam_fixture, "train", POTSDAM)  # flat img_dir/ann_dir: every split
    raw = np.asarray(Image.open(scene.label))
    label = decode_label(scene.label, POTSDAM)
    assert (label[raw == 0] == 255).all()
    for value in range(1, 7):
        assert (label[raw == value] == value - 1).all()


def write_released_potsdam(root: Path, raw: np.ndarray, image: np.ndarray, tile: str = "2_10") -> None:
    (root / "2_Ortho_RGB").mkdir(parents=True)
    (root / "5_Labels_all_noBoundary").mkdir()
    colors = np.array([INDEX_TO_COLOR[i] for i in range(7)], dtype=np.uint8)
    Image.fromarray(image).save(root / "2_Ortho_RGB" / f"top_potsdam_{tile}_RGB.tif")
    Image.fromarray(colors[raw]).save(root / "5_Labels_all_noBoundary" / f"top_potsdam_{tile}_label_noBoundary.tif")


def test_released_colour_tiles_match_index_pngs(potsdam_fixture, tmp_path):
    (scene,) = find_scenes(potsdam_fixture, "train", POTSDAM)
    raw = np.asarray(Image.open(scene.label))
    write_released_potsdam(tmp_path, raw, np.asarray(Image.open(scene.image)))
    (released,) = find_scenes(tmp_path, "train", POTSDAM)  # 2_10 is a training tile
    assert released.image.name == "top_potsdam_2_10_RGB.tif"
    assert np.array_equal(decode_label(released.label, POTSDAM), decode_label(scene.label, POTSDAM))
    with pytest.raises(FileNotFoundError, match="no potsdam images for split 'val'"):
        find_scenes(tmp_path, "val", POTSDAM)  # 2_10 is not a validation tile
    with pytest.raises(ValueError, match="unknown Potsdam split 'test'"):
        find_scenes(tmp_path, "test", POTSDAM)


def test_released_isaid_colour_masks(tmp_path):
    rng = np.random.default_rng(0)
    index = rng.integers(0, 16, (20, 30))
    palette = np.array(list(ISAID.colors), dtype=np.uint8)
    (tmp_path / "val" / "images").mkdir(parents=True)
    (tmp_path / "val" / "Semantic_masks" / "images").mkdir(parents=True)
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "val" / "images" / "P0003.png")
    Image.fromarray(palette[index]).save(
        tmp_path / "val" / "Semantic_masks" / "images" / "P0003_instance_color_RGB.png"
    )
    (scene,) = find_scenes(tmp_path, "val", ISAID)
    assert np.array_equal(decode_label(scene.label, ISAID), index)
    assert ISAID.classes[14] == "plane" and ISAID.colors[(0, 127, 255)] == 14


def test_unknown_colour_and_index_name_the_file(tmp_path):
    bad_color = tmp_path / "bad_color.png"
    Image.fromarray(np.full((4, 4, 3), 7, np.uint8)).save(bad_color)
    with pytest.raises(ValueError, match=r"bad_color.png: colour \(7, 7, 7\) is not a potsdam label colour"):
        decode_label(bad_color, POTSDAM)
    bad_index = tmp_path / "bad_index.png"
    Image.fromarray(np.full((4, 4), 9, np.uint8)).save(bad_index)
    with pytest.raises(ValueError, match=r"bad_index\.png: label value 9 is not a potsdam class index"):
        decode_label(bad_index, POTSDAM)


def test_a_label_cut_short_names_the_file(tmp_path):
    label = tmp_path / "cut.png"
    noise = np.random.default_rng(0).integers(0, 7, (64, 64), dtype=np.uint8)  # incompressible enough to cut
    Image.fromarray(noise).save(label)
    label.write_bytes(label.read_bytes()[: label.stat().st_size // 2])
    with pytest.raises(ImageReadError, match=r"cut\.png: cannot read image: image file is truncated"):
        decode_label(label, POTSDAM)


def test_missing_label_and_layout(tmp_path):
    (tmp_path / "img_dir" / "train").mkdir(parents=True)
    (tmp_path / "ann_dir" / "train").mkdir(parents=True)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "img_dir" / "train" / "a.png")
    with pytest.raises(FileNotFoundError, match="no label for a"):
        find_scenes(tmp_path, "train", POTSDAM)
    with pytest.raises(FileNotFoundError, match=r"no isaid layout .*; see 'Fine-tuning input' in README\.md$"):
        find_scenes(tmp_path / "nothing", "train", ISAID)  # the README documents the layouts, not a module


def test_tiles_cover_the_scene(potsdam_fixture):
    tiles = SceneTiles(find_scenes(potsdam_fixture, "train", POTSDAM), POTSDAM, tile_size=200)
    assert len(tiles) == 9  # origins 0, 200, 312 on each axis (last flush with the 512 edge)
    image, label = tiles[8]
    full = decode_label(find_scenes(potsdam_fixture, "train", POTSDAM)[0].label, POTSDAM)
    assert image.shape == (200, 200, 3) and np.array_equal(label, full[312:, 312:])


def test_fraction_is_seeded():
    first = fraction_indices(1000, 0.01, seed=1)
    assert len(first) == 10 and np.array_equal(first, fraction_indices(1000, 0.01, seed=1))
    assert not np.array_equal(first, fraction_indices(1000, 0.01, seed=2))
    assert len(fraction_indices(10, 0.01, seed=0)) == 1
    with pytest.raises(ValueError, match="train fraction"):
        fraction_indices(10, 0.0, seed=0)
