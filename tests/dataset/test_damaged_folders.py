"""Damaged SAMRS folders (cut or bit-flipped shards, a broken card, rows the card does not count) are one
error naming the file and the fix, from every reader: ``load_subset``, resume, the commands."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
import pytest
import yaml
from isolated import assert_one_line_error, run_samrs
from release_folders import SOTA_TILES, write_release
from samrs_folders import write_samrs

from samrs_hf.cli import main
from samrs_hf.dataset.folder import check_subset, load_subset
from samrs_hf.dataset.shards import committed_ids
from samrs_hf.errors import DamagedFileError

SHARD = "sota/train-r00-00001.parquet"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """SOTA with 4 train rows (two shards) and 2 validation rows."""
    return write_samrs(tmp_path_factory.mktemp("pristine") / "samrs", {"sota": {"train": 4, "validation": 2}})


@pytest.fixture
def folder(pristine, tmp_path, request):
    """A copy of :func:`pristine` to damage, named after the test (``datasets`` caches a folder by name and card)."""
    return shutil.copytree(pristine, tmp_path / request.node.name.replace("[", "-").strip("]"))


def cut(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def flip_image_byte(path) -> None:
    """Flip one bit in the middle of the first row group's ``image`` bytes (the PNGs, in a dictionary page)."""
    column = pq.read_metadata(path).row_group(0).column(1)
    assert column.path_in_schema == "image.bytes"
    data = bytearray(path.read_bytes())
    data[(column.dictionary_page_offset or column.data_page_offset) + column.total_compressed_size // 2] ^= 0x04
    path.write_bytes(data)


def edit_card(folder, change) -> None:
    readme = folder / "README.md"
    _, header, body = readme.read_text().split("---\n", 2)
    metadata = yaml.safe_load(header)
    change(metadata)
    readme.write_text(f"---\n{yaml.safe_dump(metadata, sort_keys=False)}---\n{body}")


def test_a_good_folder_loads_with_its_pages_verified(folder):
    assert [p.name for p in check_subset(folder, "sota", "train")["train"]] == [
        "train-r00-00000.parquet",
        "train-r00-00001.parquet",
    ]
    assert len(load_subset(folder, "sota", "train")) == 4 and len(load_subset(folder, "sota")["validation"]) == 2


def test_a_cut_shard_is_named_by_every_reader(folder):
    cut(folder / SHARD)
    for read in (lambda: load_subset(folder, "sota", "train"), lambda: committed_ids(folder / "sota")):
        with pytest.raises(
            DamagedFileError, match=rf"{SHARD}: damaged Parquet shard \(Parquet magic bytes.*--overwrite"
        ):
            read()


def test_a_flipped_bit_fails_its_page_checksum(folder):
    flip_image_byte(folder / SHARD)
    check_subset(folder, "sota", "train")  # the footer is intact: found when the page is read
    for split in ("train", "validation"):  # ``datasets`` prepares every split of a config
        with pytest.raises(DamagedFileError, match=rf"{SHARD}: damaged Parquet shard \(.*CRC checksum verification"):
            load_subset(folder, "sota", split)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / SHARD).unlink(), r"sota/train has 4 rows but the 1 files sota/train-\*\.parquet hold 2"),
        (
            lambda f: shutil.copy(f / SHARD, f / "sota/train-r00-00002.parquet"),
            r"sota/train has 4 rows but the 3 files .* hold 6: delete shards that do not belong",
        ),
        (
            lambda f: edit_card(f, lambda m: m["dataset_info"]["splits"][0].update(num_examples=7)),
            "sota/train has 7 rows but the 2 files",
        ),
        (lambda f: edit_card(f, lambda m: m.update(configs=5)), r"README\.md: `configs:` unlike samrs's"),
        (
            lambda f: edit_card(f, lambda m: m["configs"][0]["data_files"][0].update(path="../*.parquet")),
            r"sota/train reads '\.\./\*\.parquet', not 'sota/train-\*\.parquet'",
        ),
        (lambda f: edit_card(f, lambda m: m.update(dataset_info=[7])), r"README\.md: unreadable `dataset_info`"),
        (
            lambda f: (f / "README.md").write_text((f / "README.md").read_text().replace("configs:", "configs: [", 1)),
            r"README\.md: broken YAML in the card \(expected the node content, but found '-' at line \d+\)",
        ),
        (lambda f: (f / "README.md").write_bytes(b"---\n\xff\xfe\n---\n"), r"README\.md: broken dataset card"),
        (
            lambda f: pq.write_table(pq.read_table(f / SHARD).drop_columns(["tile"]), f / "sota/train-foreign.parquet"),
            r"train-foreign\.parquet: not a sota shard \(other columns\)",
        ),
    ],
    ids=["missing", "extra", "card-rows", "configs", "pattern", "dataset-info", "yaml", "utf8", "foreign"],
)
def test_shards_and_cards_that_disagree_are_named_before_reading_rows(folder, damage, message):
    damage(folder)
    with pytest.raises(DamagedFileError, match=message):
        load_subset(folder, "sota", "train")


@pytest.mark.parametrize(
    ("command", "damage", "needles"),
    [
        ("stats {folder} --config sota", lambda f: cut(f / SHARD), [SHARD, "Parquet magic bytes", "--overwrite"]),
        ("export-coco {folder} --config sota", lambda f: flip_image_byte(f / SHARD), [SHARD, "CRC checksum"]),
        (
            "compare {pristine} {folder} --config sota",
            lambda f: (f / "README.md").write_text((f / "README.md").read_text().replace("tags:", "tags: [", 1)),
            ["README.md: broken YAML in the card", "samrs import-release"],
        ),
    ],
    ids=["stats-cut", "export-coco-flipped", "compare-yaml"],
)
def test_commands_report_a_damaged_folder_in_one_line(pristine, folder, tmp_path, command, damage, needles):
    damage(folder)
    result = run_samrs(*command.format(folder=folder, pristine=pristine).split(), "--out", tmp_path / "out")
    assert_one_line_error(result, *needles)


def test_a_resume_over_a_cut_shard_names_it(tmp_path, capsys):
    root = write_release(tmp_path / "release", "sota", SOTA_TILES)
    argv = ["import-release", "sota", "--root", str(root), "--out", str(tmp_path / "samrs"), "--rows-per-shard", "1"]
    assert main([*argv, "--limit", "1"]) == 0
    shard = sorted((tmp_path / "samrs" / "sota").glob("train-*.parquet"))[0]
    cut(shard)
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert f"{shard}: damaged Parquet shard" in err and "--overwrite" in err
