"""Class lists in each source's own order (the annotation strings), and the value of unlabelled pixels.

SAMRS's release order (the semantic-map values) is each subset's own: its recipe in
:mod:`samrs_hf.dataset.subsets` holds it and the renaming from these names.
"""

from __future__ import annotations

DOTA_V2_CLASSES: tuple[str, ...] = (
    "plane",
    "baseball-diamond",
    "bridge",
    "ground-track-field",
    "small-vehicle",
    "large-vehicle",
    "ship",
    "tennis-court",
    "basketball-court",
    "storage-tank",
    "soccer-ball-field",
    "roundabout",
    "harbor",
    "swimming-pool",
    "helicopter",
    "container-crane",
    "airport",
    "helipad",
)
"""DOTA-v2.0 in the source's order (v1.0 = the first 15, v1.5 = the first 16)."""

DIOR_CLASSES: tuple[str, ...] = (
    "airplane",
    "airport",
    "baseballfield",
    "basketballcourt",
    "bridge",
    "chimney",
    "Expressway-Service-area",
    "Expressway-toll-station",
    "dam",
    "golffield",
    "groundtrackfield",
    "harbor",
    "overpass",
    "ship",
    "stadium",
    "storagetank",
    "tenniscourt",
    "trainstation",
    "vehicle",
    "windmill",
)
"""DIOR / DIOR-R, spelled exactly as in the annotation XMLs (note the two Expressway classes)."""

FAIR1M_CLASSES: tuple[str, ...] = (
    "Boeing737",
    "Boeing747",
    "Boeing777",
    "Boeing787",
    "C919",
    "A220",
    "A321",
    "A330",
    "A350",
    "ARJ21",
    "other-airplane",
    "Passenger Ship",
    "Motorboat",
    "Fishing Boat",
    "Tugboat",
    "Engineering Ship",
    "Liquid Cargo Ship",
    "Dry Cargo Ship",
    "Warship",
    "other-ship",
    "Small Car",
    "Bus",
    "Cargo Truck",
    "Dump Truck",
    "Van",
    "Trailer",
    "Tractor",
    "Excavator",
    "Truck Tractor",
    "other-vehicle",
    "Basketball Court",
    "Tennis Court",
    "Football Field",
    "Baseball Field",
    "Intersection",
    "Roundabout",
    "Bridge",
)
"""FAIR1M 1.0/2.0 ``<possibleresult><name>`` strings."""

IGNORE_INDEX = 255
"""Semantic-map value of pixels no mask covers."""
