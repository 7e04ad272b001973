"""Shared test fixtures: the real-format samples in ../shared/fixtures and a tiny random SAM."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="samrs-test-datasets-cache-")
"""This run's own ``datasets`` cache, apart from the user's: set when this file is imported, before any other
conftest (which pytest imports before calling any ``pytest_configure``) can import ``datasets``."""


def pytest_unconfigure(config) -> None:
    shutil.rmtree(os.environ.pop("HF_DATASETS_CACHE", ""), ignore_errors=True)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """``../shared/fixtures`` beside the checkout; tests that need it skip when it is absent."""
    if not FIXTURES.is_dir():
        pytest.skip(f"real-format fixtures not found at {FIXTURES} (they live in ../shared beside the checkout)")
    return FIXTURES


@pytest.fixture(scope="session")
def tiny_sam_dir(tmp_path_factory) -> Path:
    """A tiny random SamModel + SamProcessor saved to a temp folder (no network)."""
    from samrs_hf.experiments.tiny_sam import save_tiny_sam

    return save_tiny_sam(tmp_path_factory.mktemp("tiny-sam"))
