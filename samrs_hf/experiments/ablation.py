"""The paper's prompt ablation (SAMRS Table 1): which SAM prompt recovers the true masks best.

On the HRSC2016 test images that have pixel masks, every object is prompted with each row's
prompt; each predicted mask is compared with that object's own ground-truth mask and the results
are summarised as ``mIoU_I`` (mean of per-instance IoU) and ``mIoU_P`` (sum of intersections over
sum of unions), see :class:`samrs_hf.metrics.instance.InstanceIoU`. Each image is encoded once per
model; all rows are decoded from that one embedding.

A row is ``PROMPT[@OPTION...]``: a prompt of :mod:`samrs_hf.labeling.prompts` (``cp+rhbox``) and
optional :class:`~samrs_hf.labeling.labeler.Decoding` options (``hbox@best``, ``hbox@refine1``,
``rhbox@clip2``). Several models fill one table, a column group each; the paper's figures stand
beside them.

:data:`~samrs_hf.experiments.table1.PAPER_TABLE1` holds the paper's Table 1 as published.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from samrs_hf.experiments.table1 import PAPER_MODEL, PAPER_TABLE1, PaperRow, paper_table_markdown
from samrs_hf.labeling.labeler import SamLabeler, parse_row
from samrs_hf.metrics.instance import InstanceIoU
from samrs_hf.sources.hrsc2016 import HRSC2016

__all__ = [
    "PAPER_TABLE1",
    "PaperRow",
    "ablation_image_ids",
    "ablation_markdown",
    "paper_table_markdown",
    "parse_rows",
    "run_ablation",
    "score_image",
    "write_ablation",
]


_PAPER = {row.prompt: row for row in PAPER_TABLE1}


def parse_rows(text: str) -> list[str]:
    """A comma list of rows (``PROMPT[@OPTION...]``), where ``paper`` stands for the paper's 15 rows in
    order: e.g. ``"paper,hbox@best,hbox@refine1"``. Rows are returned in a canonical spelling."""
    rows = []
    for item in (t.strip() for t in text.split(",")):
        if item.lower() == "paper":
            rows += [row.prompt for row in PAPER_TABLE1]
        elif item:
            spec, decoding = parse_row(item)
            rows.append("@".join(filter(None, (str(spec), str(decoding)))))
    if not rows:
        raise ValueError(f"no row in {text!r}; give 'paper' or a comma list such as 'hbox,cp+rhbox,hbox@best'")
    repeated = sorted({row for row in rows if rows.count(row) > 1})
    if repeated:
        raise ValueError(f"--prompts {text!r} repeats {', '.join(repeated)}")
    return rows


def score_image(
    meter: InstanceIoU, predictions: Iterable[tuple[int, np.ndarray]], gt_masks: Sequence[np.ndarray | None]
) -> None:
    """Add one image's ``(object index, predicted mask)`` pairs to ``meter``.

    Objects without a ground-truth mask (``None``) are left out, as are (inside ``meter``)
    objects whose prediction and ground truth are both empty.
    """
    for index, mask in predictions:
        target = gt_masks[index]
        if target is not None:
            meter.update(mask, target)


def ablation_image_ids(source: HRSC2016, split: str = "test") -> list[str]:
    """Images of ``split`` that have a segmentation PNG; ``"test"`` is the paper's ablation set."""
    if split == "test":
        return source.ablation_ids()
    ids = HRSC2016(source.root, split=split).image_ids()
    return [image_id for image_id in ids if source.segmentation_path(image_id).is_file()]


def run_ablation(
    source: HRSC2016, labeler: SamLabeler, rows: Sequence[str], image_ids: Sequence[str], progress: bool = True
) -> dict[str, InstanceIoU]:
    """Score every row with one model on ``image_ids``: one encoding per image, every row decoded from it.

    Only objects with a ground-truth mask are prompted.
    """
    parsed = {row: parse_row(row) for row in rows}
    results = {row: InstanceIoU() for row in rows}
    for image_id in tqdm(image_ids, desc=f"ablation [{labeler.model_id}]", unit="image", disable=not progress):
        record = source.load(image_id)
        scored = [(obj, mask) for obj, mask in zip(record.objects, source.gt_masks(record)) if mask is not None]
        if not scored:
            continue
        objects, gt_masks = zip(*scored)
        image = record.read()
        encoding = labeler.encode(image)
        for row, (spec, decoding) in parsed.items():
            labeled = labeler.label_objects(image, objects, spec, encoding=encoding, decoding=decoding)
            score_image(results[row], ((m.index, m.mask) for m in labeled), gt_masks)
    return results


def _fmt(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.2f}"


def ablation_markdown(results: dict[str, dict[str, InstanceIoU]]) -> str:
    """``results[model][row]`` as one Markdown table: the paper's figures (SAM ViT-H) beside a column
    group per model."""
    models = list(results)
    rows = list(dict.fromkeys(row for per_model in results.values() for row in per_model))
    header = "| row | paper mIoU_I | paper mIoU_P | " + " | ".join(
        f"{m} mIoU_I | {m} mIoU_P | {m} instances" for m in models
    )
    lines = [header + " |", "|---|" + "---:|" * (2 + 3 * len(models))]
    for row in rows:
        paper = _PAPER.get(row)
        cells = [_fmt(paper and paper.miou_i), _fmt(paper and paper.miou_p)]
        for model in models:
            meter = results[model].get(row, InstanceIoU())
            cells += [_fmt(meter.miou_i), _fmt(meter.miou_p), str(meter.instances)]
        lines.append(f"| `{row}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _figure(value: float) -> float | None:
    return None if math.isnan(value) else value


def write_ablation(out_dir: str | Path, results: dict[str, dict[str, InstanceIoU]], meta: dict) -> tuple[Path, Path]:
    """Write ``ablation.md`` (``meta`` as a header list, then the table) and ``ablation.json`` of
    ``results[model][row]``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    header = "".join(f"- {key}: {value}\n" for key, value in meta.items())
    note = f"Paper: SAMRS Table 1, {PAPER_MODEL} on the 124 HRSC2016 test images with masks (values in %).\n"
    markdown = out_dir / "ablation.md"
    text = f"# SAM prompt ablation (SAMRS Table 1)\n\n{header}\n{note}\n{ablation_markdown(results)}"
    markdown.write_text(text, encoding="utf-8")
    rows = list(dict.fromkeys(row for per_model in results.values() for row in per_model))
    records = []
    for row in rows:
        paper = _PAPER.get(row)
        measured = {
            model: {"mIoU_I": _figure(m.miou_i), "mIoU_P": _figure(m.miou_p), "instances": m.instances}
            for model, per_model in results.items()
            if (m := per_model.get(row)) is not None
        }
        records.append(
            {
                "row": row,
                "paper": None
                if paper is None
                else {"group": paper.group, "mIoU_I": paper.miou_i, "mIoU_P": paper.miou_p},
                "models": measured,
            }
        )
    path = out_dir / "ablation.json"
    path.write_text(json.dumps({**meta, "unit": "percent", "rows": records}, indent=2) + "\n", encoding="utf-8")
    return markdown, path
