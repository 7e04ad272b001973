"""The class lists against the real-format class files in ../shared/fixtures/classes, and the recipes' renaming."""

from __future__ import annotations

import pytest

from samrs_hf.classes import DIOR_CLASSES, DOTA_V2_CLASSES, FAIR1M_CLASSES
from samrs_hf.dataset.subsets import SAMRS_RELEASE_CLASSES, SUBSETS
from samrs_hf.sources import DIOR, DOTA, FAIR1M


def _rows(path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def test_source_lists_are_the_annotation_strings(fixtures_dir):
    folder = fixtures_dir / "classes"
    assert tuple(row[0] for row in _rows(folder / "dota_v2.0_classes.txt")) == DOTA_V2_CLASSES
    assert tuple(row[0] for row in _rows(folder / "dior_classes.txt")) == DIOR_CLASSES
    assert tuple(row[0] for row in _rows(folder / "fair1m_classes.txt")) == FAIR1M_CLASSES
    assert (DOTA.classes, DIOR.classes, FAIR1M.classes) == (DOTA_V2_CLASSES, DIOR_CLASSES, FAIR1M_CLASSES)


def test_release_order_is_the_published_one(fixtures_dir):
    subsets, current = {}, None
    for line in (fixtures_dir / "classes" / "samrs_release_order.txt").read_text().splitlines():
        if line.startswith("["):
            current = subsets.setdefault(line.strip("[]"), [])
        elif line.strip() and not line.startswith("#"):
            index, name = line.split(maxsplit=1)
            assert int(index) == len(current)
            current.append(name)
    assert {name: tuple(names) for name, names in subsets.items()} == SAMRS_RELEASE_CLASSES


@pytest.mark.parametrize(
    ("subset", "source_classes"), [("sota", DOTA_V2_CLASSES), ("sior", DIOR_CLASSES), ("fast", FAIR1M_CLASSES)]
)
def test_every_source_class_reaches_exactly_one_release_class(subset, source_classes):
    recipe = SUBSETS[subset]
    renamed = [recipe.release_name(name) for name in source_classes]
    assert sorted(renamed) == sorted(recipe.classes)
