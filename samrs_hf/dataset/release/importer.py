"""``samrs import-release``: the release's files -> SAMRS rows, resumable and split across processes."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path

import numpy as np
from accelerate import PartialState
from PIL import Image

from samrs_hf.classes import IGNORE_INDEX
from samrs_hf.dataset.job import JobSummary, Row, SubsetJob, prefetch, shown, skip_or_raise
from samrs_hf.dataset.release.format import (
    MAX_IMAGE_BYTES,
    MAX_PKL_BYTES,
    RELEASE_SOURCE,
    ReleaseFileError,
    ReleaseLayout,
    find_layout,
    image_index,
    read_split_list,
)
from samrs_hf.dataset.release.instances import max_counts_chars, release_objects
from samrs_hf.dataset.release.pickles import load_pickle
from samrs_hf.dataset.schema import IMAGE_COMPRESS_LEVEL, image_bytes
from samrs_hf.dataset.subsets import SubsetRecipe, get_subset
from samrs_hf.records import ImageReadError, decode_rgb, open_image, stored_as_is


def _read_image(path: Path, width: int, height: int) -> bytes:
    """The bytes to store for the image of a ``width`` x ``height`` map, in the map's frame (EXIF orientation
    applied or not, :func:`~samrs_hf.records.decode_rgb`): the file as is when ``datasets`` loads it as exactly
    those pixels, else its pixels as PNG."""
    try:
        decoded = decode_rgb(path, (width, height))
    except ImageReadError as error:
        raise ReleaseFileError("unreadable_image", str(error)) from None
    except ValueError as error:
        raise ReleaseFileError("size_mismatch", f"{error} (its gray/ map)") from None
    return path.read_bytes() if decoded.stored_as_is else image_bytes(decoded.rgb, IMAGE_COMPRESS_LEVEL)["bytes"]


def _read_semantic_map(path: Path, num_classes: int) -> tuple[bytes, int, int]:
    """``(bytes to store, width, height)`` of a ``gray/`` map, checked: a mode-L PNG holding class indices or 255.

    Its pixels are the annotation's frame: stored byte for byte, or re-encoded when its file may not be
    (:func:`~samrs_hf.records.stored_as_is`: an EXIF orientation ``datasets`` would apply, or extra bytes).
    """
    try:
        with open_image(path) as png:
            kind, (width, height) = (png.format, png.mode), png.size
            indices = np.asarray(png) if kind == ("PNG", "L") else None
            as_is = indices is not None and stored_as_is(png, path)
    except ImageReadError as error:
        raise ReleaseFileError("bad_semantic_map", str(error)) from None
    except (OSError, SyntaxError, ValueError, MemoryError) as error:
        raise ReleaseFileError("bad_semantic_map", f"{path}: unreadable PNG ({error})") from None
    if indices is None:
        raise ReleaseFileError(
            "bad_semantic_map",
            f"{path}: a {kind[0]} image of mode {kind[1]}, not the mode-L PNG of class indices the release's gray/ "
            "holds (was --gray pointed at color/?)",
        )
    values = np.unique(indices)
    bad = values[(values >= num_classes) & (values != IGNORE_INDEX)]
    if bad.size:
        raise ReleaseFileError(
            "bad_semantic_map", f"{path}: values {bad.tolist()} are neither class indices 0..{num_classes - 1} nor 255"
        )
    return path.read_bytes() if as_is else image_bytes(Image.fromarray(indices))["bytes"], width, height


@dataclass
class ReleaseTile:
    """One listed tile: dataset split, release NAME and its image file (``None`` when not found)."""

    split: str
    name: str
    image: Path | None


@dataclass
class LoadedTile:
    """A tile's row, or the error that kept it from being read; ``has_pkl`` tells an empty list from no file."""

    tile: ReleaseTile
    row: dict | None = None
    has_pkl: bool = False
    error: ReleaseFileError | None = None


def read_tile(tile: ReleaseTile, layout: ReleaseLayout, recipe: SubsetRecipe) -> LoadedTile:
    """Read one listed tile's image, semantic map and pkl into a row (errors are returned, not raised).

    Each file is checked before it is opened (:meth:`~samrs_hf.dataset.release.format.ReleaseLayout.check_file`:
    inside ``--root``, a regular file, not oversized); ``source`` and ``tile`` come from the layout's
    ``origins`` when it has the tile (an export's), else they are the image file and ``[0, 0]``.
    """
    try:
        if tile.image is None:
            folders = ", ".join(str(p) for p in layout.images)
            raise ReleaseFileError("missing_image", f"{tile.name}: no image in {folders}")
        gray = layout.gray / f"{tile.name}.png"
        if not os.path.lexists(gray):
            raise ReleaseFileError("missing_semantic_map", f"{gray}: no such file")
        layout.check_file(gray, MAX_IMAGE_BYTES)
        semantic, width, height = _read_semantic_map(gray, len(recipe.classes))
        layout.check_file(tile.image, MAX_IMAGE_BYTES)
        data = _read_image(tile.image, width, height)
        pkl = layout.ins / f"{tile.name}.pkl"
        has_pkl, objects = os.path.lexists(pkl), []
        if has_pkl:
            layout.check_file(pkl, MAX_PKL_BYTES)
            instances = load_pickle(pkl, max_item_bytes=max_counts_chars(height, width))
            objects = release_objects(instances, pkl, recipe, height, width)
    except ReleaseFileError as error:
        return LoadedTile(tile, error=error)
    source = Path(os.path.relpath(tile.image, layout.root)).as_posix()
    source, origin = layout.origins.get(tile.name, (source, [0, 0]))
    row = {
        "image_id": tile.name,
        "image": {"bytes": data, "path": None},
        "semantic_map": {"bytes": semantic, "path": None},
        "objects": objects,
        "width": width,
        "height": height,
        "source": source,
        "tile": origin,
    }
    return LoadedTile(tile, row, has_pkl)


@dataclass
class ImportOptions:
    """What ``samrs import-release`` takes; ``None`` folders and lists are detected under ``root``."""

    subset: str
    root: Path
    out: Path
    images: tuple[Path, ...] | None = None
    gray: Path | None = None
    ins: Path | None = None
    split_lists: dict[str, Path] | None = None
    limit: int | None = None  # first N names of each split list
    rows_per_shard: int = 256
    workers: int = 4  # threads reading files ahead of the writer
    skip_bad: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        self.root, self.out = Path(self.root), Path(self.out)


@dataclass
class ImportSummary(JobSummary):
    """Counts of one import (summed over processes) and the names of what was skipped or has no pkl."""

    listed: Counter = field(default_factory=Counter)
    without_pkl: list[str] = field(default_factory=list)

    def plan_counts(self) -> str:
        return f"{sum(self.listed.values())} listed"

    def format(self) -> str:
        listed = ", ".join(f"{split} {n}" for split, n in self.listed.items())
        lines = [
            f"tiles listed: {listed}",
            f"tiles already in committed shards (resumed): {self.already_done}",
            f"tiles written: {self.written}",
            f"instances written: {self.instances}",
            f"tiles without a pkl (written with no instances): {len(self.without_pkl)}",
            *shown(self.without_pkl),
            *self.skip_lines(),
        ]
        return "\n".join(lines)


def plan_release(layout: ReleaseLayout, limit: int | None, skip_bad: bool, summary: ImportSummary) -> list[ReleaseTile]:
    """Every listed tile, split by split in list order (fills ``summary.listed``).

    Without ``skip_bad`` a listed name with no image or no ``gray/`` map stops the import here,
    before anything is read; with it, those tiles are skipped (and counted) when read.
    """
    index = image_index(layout.images)
    planned = []
    for split, path in layout.split_lists.items():
        names = read_split_list(path)[:limit]
        summary.listed[split] += len(names)
        planned += [ReleaseTile(split, name, index.get(name)) for name in names]
    if not skip_bad:
        _check_files(planned, layout)
    return planned


def _check_files(planned: list[ReleaseTile], layout: ReleaseLayout) -> None:
    lists = ", ".join(str(p) for p in layout.split_lists.values())
    no_image = [t.name for t in planned if t.image is None]
    if no_image:
        folders = ", ".join(str(p) for p in layout.images)
        raise FileNotFoundError(
            f"{len(no_image)} names in {lists} have no image in {folders} (e.g. {', '.join(no_image[:3])}); "
            "point at the image folder with --images DIR, or pass --skip-bad to skip them"
        )
    gray_names = {p.stem for p in layout.gray.glob("*.png")}
    no_gray = [t.name for t in planned if t.name not in gray_names]
    if no_gray:
        raise FileNotFoundError(
            f"{len(no_gray)} names in {lists} have no {layout.gray}/NAME.png (e.g. {', '.join(no_gray[:3])}); "
            "point at the semantic maps with --gray DIR, or pass --skip-bad to skip them"
        )


def import_release(options: ImportOptions) -> ImportSummary:
    """Import (or resume importing) one subset of the authors' release into the SAMRS folder ``options.out``.

    Like ``samrs build`` (both are a :class:`~samrs_hf.dataset.job.SubsetJob`): committed tiles are
    skipped, the rest are split between ``accelerate`` processes. Returns the summary of all
    processes; raises ``ValueError`` when no tile could be written.
    """
    return ImportJob(options).run()


class ImportJob(SubsetJob[ReleaseTile]):
    """``samrs import-release``: a work item is a listed tile; its files are read into a row as they are."""

    verb = "importing"
    hint = "check --root and the split lists, or drop --limit"

    def __init__(self, options: ImportOptions):
        recipe = get_subset(options.subset)
        super().__init__(
            recipe, options.out, PartialState(cpu=True), options.rows_per_shard, options.skip_bad, options.overwrite
        )
        self.options = options

    @cached_property
    def layout(self) -> ReleaseLayout:
        o = self.options
        return find_layout(o.root, self.recipe.name, o.images, o.gray, o.ins, o.split_lists)

    def new_summary(self) -> ImportSummary:
        return ImportSummary()

    def plan(self, summary: ImportSummary) -> list[ReleaseTile]:
        return plan_release(self.layout, self.options.limit, self.skip_bad, summary)

    def key(self, item: ReleaseTile) -> tuple[str, str]:
        return item.split, item.name

    def settings(self) -> dict:
        """What determines an imported subset's rows: a resume from other folders or lists is refused."""
        return {"subset": self.recipe.name, "source": RELEASE_SOURCE, "release": self.layout.settings()}

    def rows(self, items: list[ReleaseTile], summary: ImportSummary) -> Iterator[Row | None]:
        workers = self.options.workers
        loaders = (partial(read_tile, tile, self.layout, self.recipe) for tile in items)
        for loaded in prefetch(loaders, workers, 2 * workers):
            if loaded.error is not None:
                skip_or_raise(loaded.error, loaded.error.reason, summary, self.skip_bad)
                yield None
                continue
            if not loaded.has_pkl:
                summary.without_pkl.append(f"{loaded.tile.split}/{loaded.tile.name}")
            yield Row(loaded.tile.split, lambda row=loaded.row: row, len(loaded.row["objects"]))
