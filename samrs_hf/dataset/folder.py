"""What counts as a SAMRS dataset folder, so that ``--out`` never writes over someone else's files."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import DatasetCard

from samrs_hf.dataset.subsets import RECIPES

__all__ = ["check_dataset_folder", "is_samrs_card"]


def is_samrs_card(readme: Path) -> bool:
    """Whether ``readme`` is a card ``samrs`` wrote (its YAML is tagged ``samrs``)."""
    try:
        text = Path(readme).read_text(encoding="utf-8")
        return text.startswith("---") and "samrs" in (DatasetCard(text).data.tags or [])  # no YAML: not a card
    except (OSError, ValueError, TypeError, AttributeError):
        return False


def check_dataset_folder(out: Path) -> None:
    """Refuse an ``--out`` that exists and holds anything but a SAMRS folder's own files
    (its card, subset folders, hidden files)."""
    out = Path(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file, not a folder; give a new or empty folder")
    foreign = sorted(p.name for p in out.iterdir() if not _belongs_to_samrs(p))
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise FileExistsError(
            f"--out {out} is not empty and is not a SAMRS dataset folder (it holds {shown}); "
            "nothing was changed: build into a new or empty folder"
        )


def _belongs_to_samrs(path: Path) -> bool:
    if path.name.startswith("."):
        return True
    if path.name == "README.md":
        return is_samrs_card(path)
    return path.is_dir() and path.name in RECIPES
