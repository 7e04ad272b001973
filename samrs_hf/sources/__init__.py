"""Readers for the raw detection datasets SAMRS is built from, behind one interface.

Each reader is a :class:`DetectionSource` yielding :class:`~samrs_hf.records.SourceImage` records whose objects
carry the source's own class names (``reader.classes`` in the source's order)::

    from samrs_hf.sources import get_source

    dota = get_source("dota")("data/DOTA-v2.0", split="train", skip_bad=True)
    for image in dota:
        print(image.image_id, image.width, image.height, len(image.objects))
    print(dota.report.counts)  # what was skipped or dropped, by reason
"""

from __future__ import annotations

from .base import AnnotationError, DetectionSource, ParsedAnnotation, SkipReport
from .coco import COCO, read_coco_json
from .dior import DIOR, read_dior_xml
from .dota import DOTA, read_dota_labels, write_dota_labels
from .fair1m import FAIR1M, read_fair1m_xml
from .hrsc2016 import HRSC2016, read_hrsc_xml

SOURCES: dict[str, type[DetectionSource]] = {cls.name: cls for cls in (DOTA, DIOR, FAIR1M, HRSC2016, COCO)}
"""Reader class by name: ``dota``, ``dior``, ``fair1m``, ``hrsc2016``, ``coco``."""


def get_source(name: str) -> type[DetectionSource]:
    """The reader class registered under ``name`` (case-insensitive)."""
    try:
        return SOURCES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown source {name!r}; choose from {', '.join(SOURCES)}") from None


__all__ = [
    "COCO",
    "DIOR",
    "DOTA",
    "FAIR1M",
    "HRSC2016",
    "SOURCES",
    "AnnotationError",
    "DetectionSource",
    "ParsedAnnotation",
    "SkipReport",
    "get_source",
    "read_coco_json",
    "read_dior_xml",
    "read_dota_labels",
    "read_fair1m_xml",
    "read_hrsc_xml",
    "write_dota_labels",
]
