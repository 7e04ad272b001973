"""Class lists: each source's own order, and SAMRS's release order (the semantic-map values).

The release order is that of the published SAMRS data (ViTAE-Transformer/SAMRS, mapping.py):
SOTA follows BboxToolkit's DOTA-v2.0 order, SIOR and FAST are alphabetical; DIOR names are
lower-cased and FAIR1M names have spaces replaced by ``-``.
"""

from __future__ import annotations

DOTA_V2_CLASSES: tuple[str, ...] = (
    'plane',
    'baseball-diamond',
    'bridge',
    'ground-track-field',
    'small-vehicle',
    'large-vehicle',
    'ship',
    'tennis-court',
    'basketball-court',
    'storage-tank',
    'soccer-ball-field',
    'roundabout',
    'harbor',
    'swimming-pool',
    'helicopter',
    'container-crane',
    'airport',
    'helipad',
)
"""DOTA-v2.0 in the source's order (v1.0 = the first 15, v1.5 = the first 16)."""

DIOR_CLASSES: tuple[str, ...] = (
    'airplane',
    'airport',
    'baseballfield',
    'basketballcourt',
    'bridge',
    'chimney',
    'Expressway-Service-area',
    'Expressway-toll-station',
    'dam',
    'golffield',
    'groundtrackfield',
    'harbor',
    'overpass',
    'ship',
    'stadium',
    'storagetank',
    'tenniscourt',
    'trainstation',
    'vehicle',
    'windmill',
)
"""DIOR / DIOR-R, spelled exactly as in the annotation XMLs (note the two Expressway classes)."""

FAIR1M_CLASSES: tuple[str, ...] = (
    'Boeing737',
    'Boeing747',
    'Boeing777',
    'Boeing787',
    'C919',
    'A220',
    'A321',
    'A330',
    'A350',
    'ARJ21',
    'other-airplane',
    'Passenger Ship',
    'Motorboat',
    'Fishing Boat',
    'Tugboat',
    'Engineering Ship',
    'Liquid Cargo Ship',
    'Dry Cargo Ship',
    'Warship',
    'other-ship',
    'Small Car',
    'Bus',
    'Cargo Truck',
    'Dump Truck',
    'Van',
    'Trailer',
    'Tractor',
    'Excavator',
    'Truck Tractor',
    'other-vehicle',
    'Basketball Court',
    'Tennis Court',
    'Football Field',
    'Baseball Field',
    'Intersection',
    'Roundabout',
    'Bridge',
)
"""FAIR1M 1.0/2.0 ``<possibleresult><name>`` strings."""

SAMRS_RELEASE_CLASSES: dict[str, tuple[str, ...]] = {
    "sota": (
        'large-vehicle',
        'swimming-pool',
        'helicopter',
        'bridge',
        'plane',
        'ship',
        'soccer-ball-field',
        'basketball-court',
        'ground-track-field',
        'small-vehicle',
        'baseball-diamond',
        'tennis-court',
        'roundabout',
        'storage-tank',
        'harbor',
        'container-crane',
        'airport',
        'helipad',
    ),
    "sior": (
        'airplane',
        'airport',
        'baseballfield',
        'basketballcourt',
        'bridge',
        'chimney',
        'expressway-service-area',
        'expressway-toll-station',
        'dam',
        'golffield',
        'groundtrackfield',
        'harbor',
        'overpass',
        'ship',
        'stadium',
        'storagetank',
        'tenniscourt',
        'trainstation',
        'vehicle',
        'windmill',
    ),
    "fast": (
        'A220',
        'A321',
        'A330',
        'A350',
        'ARJ21',
        'Baseball-Field',
        'Basketball-Court',
        'Boeing737',
        'Boeing747',
        'Boeing777',
        'Boeing787',
        'Bridge',
        'Bus',
        'C919',
        'Cargo-Truck',
        'Dry-Cargo-Ship',
        'Dump-Truck',
        'Engineering-Ship',
        'Excavator',
        'Fishing-Boat',
        'Football-Field',
        'Intersection',
        'Liquid-Cargo-Ship',
        'Motorboat',
        'other-airplane',
        'other-ship',
        'other-vehicle',
        'Passenger-Ship',
        'Roundabout',
        'Small-Car',
        'Tennis-Court',
        'Tractor',
        'Trailer',
        'Truck-Tractor',
        'Tugboat',
        'Van',
        'Warship',
    ),
}
"""Label index order of each released SAMRS subset; 255 marks pixels no mask covers."""

IGNORE_INDEX = 255


def to_release_name(subset: str, source_name: str) -> str:
    """Map a source class name to its name in the SAMRS release of ``subset``."""
    if subset == "sior":
        return source_name.lower()
    if subset == "fast":
        return source_name.replace(" ", "-")
    return source_name


def release_index(subset: str, source_name: str) -> int:
    """Semantic-map value of a source class in ``subset`` (raises ``KeyError`` if unknown)."""
    name = to_release_name(subset, source_name)
    try:
        return SAMRS_RELEASE_CLASSES[subset].index(name)
    except ValueError:
        raise KeyError(f"class {source_name!r} is not in the SAMRS {subset} class list") from None
