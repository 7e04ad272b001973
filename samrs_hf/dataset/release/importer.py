"""``samrs import-release``: the release's files -> SAMRS rows, resumable and split across processes."""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from accelerate import PartialState
from accelerate.utils import gather_object
from PIL import Image
from tqdm.auto import tqdm

from samrs_hf.classes import IGNORE_INDEX
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
from samrs_hf.dataset.shards import shard_files
from samrs_hf.dataset.subsets import SubsetRecipe, get_subset
from samrs_hf.dataset.writer import SubsetWriter

SHOWN = 10
"""Skipped files and tiles without a pkl named in the summary (all of them are counted)."""


def _read_image(path: Path) -> tuple[bytes, int, int]:
    """``(bytes to store, width, height)``: the file as is when an RGB PNG or JPEG, else re-encoded as PNG."""
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.format not in ("JPEG", "PNG") or image.mode != "RGB":
                data = image_bytes(image.convert("RGB"), IMAGE_COMPRESS_LEVEL)["bytes"]
            return data, image.width, image.height
    except (OSError, SyntaxError, ValueError) as error:
        raise ReleaseFileError("unreadable_image", f"{path}: unreadable image ({error})") from None


def _read_semantic_map(path: Path, width: int, height: int, num_classes: int) -> bytes:
    """The bytes of a ``gray/`` map, checked: a mode-L PNG of the image's size holding class indices or 255."""
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as png:
            kind, size = (png.format, png.mode), png.size
            values = np.unique(np.asarray(png)) if kind == ("PNG", "L") else None
    except (OSError, SyntaxError, ValueError) as error:
        raise ReleaseFileError("bad_semantic_map", f"{path}: unreadable PNG ({error})") from None
    if values is None:
        raise ReleaseFileError(
            "bad_semantic_map",
            f"{path}: a {kind[0]} image of mode {kind[1]}, not the mode-L PNG of class indices the release's gray/ "
            "holds (was --gray pointed at color/?)",
        )
    if size != (width, height):
        raise ReleaseFileError("size_mismatch", f"{path}: {size[0]}x{size[1]}, but its image is {width}x{height}")
    bad = values[(values >= num_classes) & (values != IGNORE_INDEX)]
    if bad.size:
        raise ReleaseFileError(
            "bad_semantic_map", f"{path}: values {bad.tolist()} are neither class indices 0..{num_classes - 1} nor 255"
        )
    return data


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
        layout.check_file(tile.image, MAX_IMAGE_BYTES)
        data, width, height = _read_image(tile.image)
        layout.check_file(gray, MAX_IMAGE_BYTES)
        semantic = _read_semantic_map(gray, width, height, len(recipe.classes))
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
class ImportSummary:
    """Counts of one import (summed over processes) and the names of what was skipped or has no pkl."""

    listed: Counter = field(default_factory=Counter)
    already_done: int = 0
    written: int = 0
    instances: int = 0
    without_pkl: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    skip_messages: list[str] = field(default_factory=list)

    def merge(self, other: ImportSummary) -> None:
        """Add another process's counts (the plan counts, ``listed`` and ``already_done``, are everyone's)."""
        self.written += other.written
        self.instances += other.instances
        self.without_pkl += other.without_pkl
        self.skipped.update(other.skipped)
        self.skip_messages += other.skip_messages

    def format(self) -> str:
        listed = ", ".join(f"{split} {n}" for split, n in self.listed.items())
        lines = [
            f"tiles listed: {listed}",
            f"tiles already in committed shards (resumed): {self.already_done}",
            f"tiles written: {self.written}",
            f"instances written: {self.instances}",
            f"tiles without a pkl (written with no instances): {len(self.without_pkl)}",
        ]
        lines += _shown(self.without_pkl)
        lines += [f"skipped (--skip-bad), {reason}: {n}" for reason, n in sorted(self.skipped.items())]
        lines += _shown(self.skip_messages)
        return "\n".join(lines)


def _shown(items: list[str]) -> list[str]:
    more = [f"  ... and {len(items) - SHOWN} more"] if len(items) > SHOWN else []
    return [f"  {item}" for item in items[:SHOWN]] + more


def import_settings(recipe: SubsetRecipe, layout: ReleaseLayout) -> dict:
    """What determines an imported subset's rows: a resume from other folders or lists is refused."""
    return {"subset": recipe.name, "source": RELEASE_SOURCE, "release": layout.settings()}


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

    Like ``samrs build``: committed tiles are skipped, the rest are split between ``accelerate``
    processes, and each process's rows go through :class:`~samrs_hf.dataset.writer.SubsetWriter`.
    Returns the summary of all processes; raises ``ValueError`` when no tile could be written.
    """
    from samrs_hf.dataset.build import prefetch

    recipe = get_subset(options.subset)
    layout = find_layout(options.root, recipe.name, options.images, options.gray, options.ins, options.split_lists)
    state = PartialState(cpu=True)
    writer = SubsetWriter(options.out, recipe, state, options.rows_per_shard)
    done = writer.prepare(import_settings(recipe, layout), overwrite=options.overwrite)
    summary = ImportSummary()
    planned = plan_release(layout, options.limit, options.skip_bad, summary)
    todo = [t for t in planned if (t.split, t.name) not in done]
    summary.already_done = len(planned) - len(todo)
    with state.split_between_processes(todo) as mine:
        loaders = (partial(read_tile, tile, layout, recipe) for tile in mine)
        _write_tiles(prefetch(loaders, options.workers, 2 * options.workers), len(mine), writer, options, summary)
    total = _gather(summary)
    writer.finish()
    if not shard_files(writer.folder):
        raise ValueError(
            f"no tile of {recipe.name} was written to {options.out} ({sum(total.listed.values())} listed, "
            f"{sum(total.skipped.values())} skipped); check --root and the split lists, or drop --limit"
        )
    return total


def _write_tiles(
    loaded_tiles: Iterator[LoadedTile], count: int, writer: SubsetWriter, options: ImportOptions, summary: ImportSummary
) -> None:
    rank = writer.state.process_index
    with writer.open() as put, tqdm(total=count, desc=f"importing {options.subset} [rank {rank}]", unit="tile") as bar:
        for loaded in loaded_tiles:
            bar.update()
            if loaded.error is not None:
                if not options.skip_bad:
                    raise loaded.error
                summary.skipped[loaded.error.reason] += 1
                summary.skip_messages.append(str(loaded.error))
                continue
            if not loaded.has_pkl:
                summary.without_pkl.append(f"{loaded.tile.split}/{loaded.tile.name}")
            put(loaded.tile.split, lambda row=loaded.row: row)
            summary.written += 1
            summary.instances += len(loaded.row["objects"])


def _gather(summary: ImportSummary) -> ImportSummary:
    gathered = gather_object([summary])
    total = gathered[0]
    for other in gathered[1:]:
        total.merge(other)
    return total
