"""Shared test fixtures: the real-format samples (``../shared/fixtures``, or ``$SAMRS_FIXTURES``) and a tiny
random SAM."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

FIXTURES_VARIABLE = "SAMRS_FIXTURES"
"""Environment variable naming a copy of the real-format fixtures elsewhere than ``../shared/fixtures``."""


def fixtures_path() -> Path:
    """``$SAMRS_FIXTURES``, else ``../shared/fixtures`` beside the checkout."""
    default = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    return Path(os.environ.get(FIXTURES_VARIABLE) or default)


def require_fixtures(path: Path) -> Path:
    """``path`` when it is a folder; else skip the test, saying the fixtures are optional and how to point at them."""
    if not path.is_dir():
        pytest.skip(
            f"real-format fixtures not found at {path}: they are optional (only the tests that read them are "
            f"skipped); set {FIXTURES_VARIABLE}=/path/to/fixtures to use your own copy"
        )
    return path


os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="samrs-test-datasets-cache-")
"""This run's own ``datasets`` cache, apart from the user's: set when this file is imported, before any other
conftest (which pytest imports before calling any ``pytest_configure``) can import ``datasets``."""


def pytest_unconfigure(config) -> None:
    shutil.rmtree(os.environ.pop("HF_DATASETS_CACHE", ""), ignore_errors=True)


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """Each test leaves torch's thread count as it found it (a benchmark's ``main`` sets one thread): masks of
    the tiny random SAM depend on it, so a leak would make later tests depend on their order."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The real-format fixtures (:func:`fixtures_path`); tests that need them skip when they are absent."""
    return require_fixtures(fixtures_path())


@pytest.fixture(scope="session")
def tiny_sam_dir(tmp_path_factory) -> Path:
    """A tiny random SamModel + SamProcessor saved to a temp folder (no network)."""
    from samrs_hf.experiments.tiny_sam import save_tiny_sam

    return save_tiny_sam(tmp_path_factory.mktemp("tiny-sam"))
