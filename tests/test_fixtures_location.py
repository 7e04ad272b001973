"""The real-format fixtures are optional: found beside the checkout or through $SAMRS_FIXTURES, skipped with a
message that says so."""

from __future__ import annotations

import pytest
from conftest import FIXTURES_VARIABLE, fixtures_path, require_fixtures


def test_the_environment_variable_points_at_another_copy(tmp_path, monkeypatch):
    monkeypatch.setenv(FIXTURES_VARIABLE, str(tmp_path))
    assert fixtures_path() == tmp_path == require_fixtures(fixtures_path())
    monkeypatch.delenv(FIXTURES_VARIABLE)
    assert fixtures_path().parts[-2:] == ("shared", "fixtures")


def test_missing_fixtures_skip_saying_they_are_optional_and_how_to_point_at_them(tmp_path):
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_fixtures(tmp_path / "nowhere")
    assert str(skipped.value) == (
        f"real-format fixtures not found at {tmp_path / 'nowhere'}: they are optional (only the tests that read "
        "them are skipped); set SAMRS_FIXTURES=/path/to/fixtures to use your own copy"
    )
