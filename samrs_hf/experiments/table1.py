"""The SAMRS paper's Table 1, carried as data: the 15 prompt rows and both figures.

Source: Wang et al., "SAMRS: Scaling-up Remote Sensing Segmentation Dataset with Segment Anything
Model", NeurIPS 2023 Datasets and Benchmarks, Table 1: SAM ViT-H (``facebook/sam-vit-huge``) on the
124 HRSC2016 test images that have pixel masks; ``mIoU_I`` and ``mIoU_P`` in %. The rows are in the
paper's order, grouped by the geometry the prompt comes from (point, H-Box, R-Box, RH-Box).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PAPER_MODEL", "PAPER_TABLE1", "PaperRow", "paper_table_markdown"]

PAPER_MODEL = "facebook/sam-vit-huge"


@dataclass(frozen=True)
class PaperRow:
    """One row of the paper's Table 1: the prompt geometry ``group``, the prompt, and its figures (%)."""

    group: str
    prompt: str
    miou_i: float
    miou_p: float


PAPER_TABLE1: tuple[PaperRow, ...] = (
    PaperRow("point", "cp", 16.14, 2.72),
    PaperRow("hbox", "hbox", 89.97, 79.40),
    PaperRow("hbox", "hbox_m", 40.54, 36.71),
    PaperRow("hbox", "cp+hbox", 86.67, 77.35),
    PaperRow("hbox", "hbox+hbox_m", 74.21, 62.25),
    PaperRow("hbox", "cp+hbox_m", 24.54, 5.41),
    PaperRow("hbox", "cp+hbox+hbox_m", 59.71, 49.30),
    PaperRow("rbox", "rbox_m", 65.54, 59.78),
    PaperRow("rbox", "cp+rbox_m", 26.49, 4.97),
    PaperRow("rhbox", "rhbox", 88.85, 76.42),
    PaperRow("rhbox", "rhbox_m", 34.63, 31.81),
    PaperRow("rhbox", "cp+rhbox", 83.55, 72.67),
    PaperRow("rhbox", "rhbox+rhbox_m", 66.23, 52.75),
    PaperRow("rhbox", "cp+rhbox_m", 23.71, 5.10),
    PaperRow("rhbox", "cp+rhbox+rhbox_m", 49.24, 39.03),
)
"""SAMRS Table 1 (source in the module docstring)."""


def paper_table_markdown() -> str:
    """The paper's Table 1 as a Markdown table."""
    lines = ["| prompt from | prompt | mIoU_I | mIoU_P |", "|---|---|---:|---:|"]
    lines += [f"| {r.group} | `{r.prompt}` | {r.miou_i:.2f} | {r.miou_p:.2f} |" for r in PAPER_TABLE1]
    return "\n".join(lines) + "\n"
