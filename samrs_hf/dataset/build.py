"""Build a SAMRS subset: read a detection dataset, tile it, label every tile with SAM, write shards.

Flow: source reader -> :func:`~samrs_hf.labeling.tiling.tile_scene` ->
:meth:`SamLabeler.label_objects <samrs_hf.labeling.labeler.SamLabeler.label_objects>` (the subset's
prompt) -> :class:`~samrs_hf.labeling.maps.LabelMapBuilder` -> :func:`~samrs_hf.dataset.schema.tile_row`
-> :class:`~samrs_hf.dataset.shards.ShardWriter` -> :func:`~samrs_hf.dataset.card.write_card`.

* **Resume**: tiles already in committed shards are skipped, so rerunning a killed build
  gives the same rows, none lost and none twice.
* **Scale out**: under ``accelerate launch`` the remaining tiles are split between processes
  (contiguous runs, so each process reads mostly its own scenes); each writes its own shards
  (``-r{rank}-``) and the main process writes the card when all are done.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from itertools import groupby, islice
from pathlib import Path
from typing import TypeVar

from accelerate import PartialState
from accelerate.utils import gather_object, parse_flag_from_env
from PIL import Image
from tqdm.auto import tqdm

from samrs_hf.dataset.card import write_card
from samrs_hf.dataset.schema import tile_row
from samrs_hf.dataset.shards import (
    BUILD_SETTINGS,
    ShardWriter,
    committed_ids,
    read_build_settings,
    remove_partial_shards,
    shard_files,
    write_build_settings,
)
from samrs_hf.dataset.subsets import SubsetRecipe, get_subset, hf_split_name
from samrs_hf.labeling.labeler import SamLabeler
from samrs_hf.labeling.maps import LabelMapBuilder
from samrs_hf.labeling.tiling import Tile, tile_scene
from samrs_hf.records import open_image
from samrs_hf.sources import get_source

__all__ = ["BuildOptions", "BuildSummary", "PlannedTile", "build_subset", "label_tile", "plan_tiles", "prefetch"]

T = TypeVar("T")


@dataclass
class BuildOptions:
    """What ``samrs build`` takes; ``None`` means the subset's paper setting (see :mod:`samrs_hf.dataset.subsets`)."""

    subset: str
    root: Path
    out: Path
    model: str = "facebook/sam-vit-huge"
    splits: tuple[str, ...] | None = None  # source splits; "all" = the whole root (flat layout)
    limit: int | None = None  # first N images of each split
    prompt: str | None = None
    prompt_batch_size: int = 64
    device: str | None = None
    dtype: str | None = None
    rows_per_shard: int = 256
    skip_bad: bool = False

    def __post_init__(self) -> None:
        self.root, self.out = Path(self.root), Path(self.out)


@dataclass
class BuildSummary:
    """Counts of one build (summed over processes)."""

    images: int = 0
    tiles: int = 0
    tiles_without_objects: int = 0
    tiles_already_done: int = 0
    tiles_written: int = 0
    tiles_without_masks: int = 0
    instances: int = 0
    dropped: Counter = field(default_factory=Counter)
    reader_skipped: Counter = field(default_factory=Counter)

    def merge(self, other: BuildSummary) -> None:
        """Add the labelling counts of another process (plan counts are the same everywhere)."""
        self.tiles_written += other.tiles_written
        self.tiles_without_masks += other.tiles_without_masks
        self.instances += other.instances
        self.dropped.update({k: v for k, v in other.dropped.items() if k.startswith("labeling:")})

    def format(self) -> str:
        lines = [
            f"images read: {self.images}",
            f"tiles with objects: {self.tiles} (skipped without objects: {self.tiles_without_objects})",
            f"tiles already in committed shards (resumed): {self.tiles_already_done}",
            f"tiles written: {self.tiles_written} (skipped, no mask left: {self.tiles_without_masks})",
            f"instances written: {self.instances}",
        ]
        lines += [f"dropped objects, {reason}: {n}" for reason, n in sorted(self.dropped.items())]
        lines += [f"reader skipped, {reason}: {n}" for reason, n in sorted(self.reader_skipped.items())]
        return "\n".join(lines)


@dataclass
class PlannedTile:
    """A tile to label and the dataset split its row goes to."""

    split: str
    tile: Tile


def plan_tiles(recipe: SubsetRecipe, options: BuildOptions, summary: BuildSummary) -> list[PlannedTile]:
    """Tiles with objects of every requested split, in a fixed order; fills the plan counts of ``summary``."""
    planned = []
    source_class = get_source(recipe.source)
    for split in options.splits or recipe.splits:
        source = source_class(
            options.root, split=None if split == "all" else split, skip_bad=options.skip_bad, **recipe.source_kwargs
        )
        for scene in tqdm(islice(source, options.limit), desc=f"reading {split}", unit="image", leave=False):
            summary.images += 1
            for tile in tile_scene(scene, recipe.tiling, summary.dropped):
                if tile.objects:
                    planned.append(PlannedTile(hf_split_name(split), tile))
                else:
                    summary.tiles_without_objects += 1
        summary.reader_skipped.update(source.report.counts)
    summary.tiles = len(planned)
    return planned


def _load_group(group: list[PlannedTile]) -> tuple[list[PlannedTile], list[Image.Image], bytes | None]:
    """Read a scene once and crop its tiles; keep the file's bytes when the only tile is the whole image."""
    scene = group[0].tile.scene
    image = scene.read()
    whole = len(group) == 1 and group[0].tile.box == (0, 0, image.width, image.height)
    original = _original_bytes(scene.image_path) if whole else None
    return group, [image.crop(p.tile.box) for p in group], original


def _original_bytes(path: Path) -> bytes | None:
    """The image file's bytes when it is an RGB JPEG or PNG (stored as is, no re-encoding)."""
    with open_image(path) as image:
        if image.format not in ("JPEG", "PNG") or image.mode != "RGB":
            return None
    return path.read_bytes()


def label_tile(
    labeler: SamLabeler, image: Image.Image, tile: Tile, recipe: SubsetRecipe, prompt: str
) -> LabelMapBuilder:
    """Label ``tile``'s objects with SAM and paint them into a label map in the recipe's class order."""
    maps = LabelMapBuilder(tile.height, tile.width, recipe.classes, recipe.release_name)
    return maps.add_all(labeler.label_objects(image, tile.objects, prompt))


def build_settings(recipe: SubsetRecipe, options: BuildOptions, prompt: str) -> dict:
    """What determines the rows of a subset: resuming with other settings would mix two datasets."""
    return {
        "subset": recipe.name,
        "model": str(options.model),
        "prompt": prompt,
        "source": recipe.source,
        "source_kwargs": recipe.source_kwargs,
        "tiling": asdict(recipe.tiling),
    }


def _check_settings(folder: Path, settings: dict) -> None:
    """Refuse to resume shards built with other settings (recorded in ``{subset}/build.json``)."""
    previous = read_build_settings(folder)
    if previous is None or not shard_files(folder):
        return
    for key, value in settings.items():
        if previous.get(key) != value:
            raise ValueError(
                f"{folder / BUILD_SETTINGS}: the shards here were built with {key}={previous.get(key)!r}, "
                f"not {value!r}; rerun with the same settings to resume, or build into another --out"
            )


def _todo(options: BuildOptions, settings: dict, planned: list[PlannedTile], state: PartialState) -> list[PlannedTile]:
    """Tiles not yet in committed shards; every process sees the same list."""
    folder = options.out / options.subset
    _check_settings(folder, settings)
    state.wait_for_everyone()
    if state.is_main_process:
        remove_partial_shards(folder)
        write_build_settings(folder, settings)
    state.wait_for_everyone()
    done = committed_ids(folder)
    state.wait_for_everyone()  # nobody commits before everyone has read the same done set
    return [p for p in planned if p.tile.image_id not in done.get(p.split, set())]


def _cpu_requested(options: BuildOptions) -> bool:
    """CPU processes: ``--device cpu`` or ``accelerate launch --cpu`` (lets torchrun-launched CPU ranks join gloo)."""
    return options.device == "cpu" or parse_flag_from_env("ACCELERATE_USE_CPU")


def build_subset(options: BuildOptions) -> BuildSummary:
    """Build (or resume) ``options.subset`` into ``options.out``; returns the summary of all processes."""
    recipe = get_subset(options.subset)
    prompt = options.prompt or recipe.prompt
    state = PartialState(cpu=_cpu_requested(options))
    summary = BuildSummary()
    planned = plan_tiles(recipe, options, summary)
    todo = _todo(options, build_settings(recipe, options, prompt), planned, state)
    summary.tiles_already_done = len(planned) - len(todo)
    labeler = SamLabeler(options.model, options.device or state.device, options.dtype, options.prompt_batch_size)
    with state.split_between_processes(todo) as mine:
        _label_tiles(mine, labeler, options, recipe, prompt, state.process_index, summary)
    return _finish(options, state, summary)


def _label_tiles(
    tiles: list[PlannedTile],
    labeler: SamLabeler,
    options: BuildOptions,
    recipe: SubsetRecipe,
    prompt: str,
    rank: int,
    summary: BuildSummary,
) -> None:
    """Label ``tiles`` (one process's share) and write their rows to this rank's shards.

    Tiles whose masks all come back empty get no row (and are labelled again by a resume).
    """
    features = recipe.features
    folder = options.out / options.subset
    writers = {
        split: ShardWriter(folder, split, features, rank, options.rows_per_shard) for split in {p.split for p in tiles}
    }
    groups = [list(g) for _, g in groupby(tiles, key=lambda p: (p.split, p.tile.scene.image_id))]
    with tqdm(total=len(tiles), desc=f"labeling {options.subset} [rank {rank}]", unit="tile") as bar:
        for group, images, original in prefetch((partial(_load_group, g) for g in groups), workers=1, ahead=2):
            for planned, image in zip(group, images):
                maps = label_tile(labeler, image, planned.tile, recipe, prompt)
                summary.dropped.update({f"labeling: {k}": v for k, v in maps.dropped.items()})
                bar.update()
                if not maps.records:
                    summary.tiles_without_masks += 1
                    continue
                writers[planned.split].add(tile_row(planned.tile, image, maps, options.root, original))
                summary.tiles_written += 1
                summary.instances += len(maps.records)
    for writer in writers.values():
        writer.flush()


def _finish(options: BuildOptions, state: PartialState, summary: BuildSummary) -> BuildSummary:
    """Sum the processes' counts and, on the main process, write the card."""
    gathered = gather_object([summary])
    total = gathered[0]
    for other in gathered[1:]:
        total.merge(other)
    if state.is_main_process:
        write_card(options.out)
    state.wait_for_everyone()
    return total


def prefetch(loaders: Iterable[Callable[[], T]], workers: int = 2, ahead: int = 4) -> Iterator[T]:
    """Yield ``loader()`` for each loader, in order, running up to ``ahead`` of them in ``workers`` threads.

    Reading and decoding images (PIL and numpy release the GIL) then overlaps SAM's work on the
    previous one. Memory holds at most ``ahead`` loaded results beyond the one being used.
    """
    if ahead < 1 or workers < 1:
        raise ValueError("prefetch needs workers >= 1 and ahead >= 1")
    loaders = iter(loaders)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = [pool.submit(f) for f in islice(loaders, ahead)]
        while pending:
            result = pending.pop(0).result()
            pending.extend(pool.submit(f) for f in islice(loaders, 1))
            yield result
