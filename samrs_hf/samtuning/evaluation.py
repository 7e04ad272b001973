"""Scores of a model being tuned: the paper's Table 1 metrics (``mIoU_I`` / ``mIoU_P``) on held-out true masks.

The model labels through :class:`~samrs_hf.labeling.labeler.SamLabeler`, the very path of ``samrs build`` and
``samrs demo`` (masks at the image's size), so the figures are those the saved checkpoint will give.
Images are split over processes and the per-instance counts gathered.
"""

from __future__ import annotations

from collections.abc import Sequence

from accelerate import Accelerator
from accelerate.utils import gather_object
from tqdm.auto import tqdm

from samrs_hf.labeling.backends import SamBackend
from samrs_hf.labeling.labeler import SamLabeler, parse_row
from samrs_hf.metrics.instance import InstanceIoU
from samrs_hf.samtuning.sources import MaskSource

__all__ = ["evaluate"]


def evaluate(
    backend: SamBackend, source: MaskSource, rows: Sequence[str], limit: int, accelerator: Accelerator, desc: str
) -> dict[str, InstanceIoU]:
    """``mIoU_I`` / ``mIoU_P`` per row (``PROMPT[@OPTION...]``: ``hbox``, ``cp+hbox``, ``hbox@best``) on the
    first ``limit`` images of ``source``; the model is left in eval mode."""
    backend.model.eval()
    labeler = SamLabeler(backend, device=accelerator.device)
    scores = {row: InstanceIoU() for row in rows}
    mine = range(accelerator.process_index, min(limit, len(source)), accelerator.num_processes)
    for index in tqdm(mine, desc=desc, unit="image", leave=False, disable=not accelerator.is_main_process):
        image = source[index]
        encoding = labeler.encode(image.image)
        for row in rows:
            spec, decoding = parse_row(row)
            for result in labeler.label_objects(image.image, image.objects, spec, encoding, decoding):
                scores[row].update(result.mask, image.masks[result.index])
    for row, meter in scores.items():
        gathered = gather_object([(meter.intersections, meter.unions)])
        scores[row] = InstanceIoU(
            [i for inter, _ in gathered for i in inter], [u for _, unions in gathered for u in unions]
        )
    return scores
