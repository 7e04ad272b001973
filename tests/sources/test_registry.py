import pytest

from samrs_hf.sources import COCO, DIOR, DOTA, FAIR1M, HRSC2016, SOURCES, get_source


def test_get_source_by_name():
    assert [get_source(name) for name in ("dota", "DIOR", "fair1m", "hrsc2016", "COCO")] == [
        DOTA, DIOR, FAIR1M, HRSC2016, COCO
    ]  # fmt: skip
    assert set(SOURCES) == {"dota", "dior", "fair1m", "hrsc2016", "coco"}
    with pytest.raises(ValueError, match="unknown source 'isaid'; choose from dota, dior, fair1m, hrsc2016, coco"):
        get_source("isaid")


@pytest.mark.parametrize("cls", [DOTA, DIOR, FAIR1M, HRSC2016])
def test_missing_root_is_a_clear_error(tmp_path, cls):
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        cls(tmp_path / "nowhere")
