"""Build a SAMRS subset: read a detection dataset, tile it, label every tile with SAM, write shards.

Flow: source reader -> :func:`~samrs_hf.labeling.tiling.tile_scene` ->
:meth:`SamLabeler.label_objects <samrs_hf.labeling.labeler.SamLabeler.label_objects>` (the subset's
prompt) -> :class:`~samrs_hf.labeling.maps.LabelMapBuilder` -> :func:`~samrs_hf.dataset.schema.tile_row`
-> :class:`~samrs_hf.dataset.writer.SubsetWriter` (shards + card).

* **Resume**: tiles already in committed shards are skipped, so rerunning a killed build gives
  the same rows, none lost and none twice. Other settings (model config, prompt, tiling, dtype)
  are refused unless ``overwrite`` starts over.
* **Scale out**: under ``accelerate launch`` the remaining tiles are split between processes
  (contiguous runs, so each process reads mostly its own scenes); each writes its own shards
  (``-r{rank}-``) and the main process publishes them and writes the card when all are done.
* **Bad input**: with ``skip_bad`` the readers skip bad annotations, and images that cannot be
  decoded are skipped too; every skip is counted and named in the summary.
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

from samrs_hf.dataset.schema import tile_row
from samrs_hf.dataset.shards import shard_files
from samrs_hf.dataset.subsets import SubsetRecipe, get_subset, hf_split_name
from samrs_hf.dataset.writer import SubsetWriter
from samrs_hf.labeling.labeler import Decoding, ImageEncoding, SamLabeler
from samrs_hf.labeling.maps import LabelMapBuilder
from samrs_hf.labeling.tiling import Tile, tile_scene
from samrs_hf.records import open_image
from samrs_hf.sources import get_source

__all__ = ["BuildOptions", "BuildSummary", "PlannedTile", "build_subset", "label_tile", "plan_tiles", "prefetch"]

T = TypeVar("T")
SHOWN_SKIPS = 10
"""Skipped files named in the summary (all of them are counted)."""
IMAGE_BATCH_SIZES = {"cpu": 1, "cuda": 4}
"""Default tiles per encoder call: a CPU gains nothing from batching the encoder (it is compute-bound
already); on a GPU a few tiles per call fill it better (4: not measured here, no GPU was lent)."""


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
    prompt_batch_size: int | None = None  # default by device (SamLabeler)
    image_batch_size: int | None = None  # tiles per encoder call; default by device (IMAGE_BATCH_SIZES)
    device: str | None = None
    dtype: str | None = None
    decoding: Decoding | str | None = None  # mask-quality options (SamLabeler's Decoding), off by default
    compile: bool = False
    rows_per_shard: int = 256
    skip_bad: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        self.root, self.out = Path(self.root), Path(self.out)


@dataclass
class BuildSummary:
    """Counts of one build (summed over processes) and the messages naming what was skipped."""

    images: int = 0
    tiles: int = 0
    tiles_without_objects: int = 0
    tiles_already_done: int = 0
    tiles_written: int = 0
    tiles_without_masks: int = 0
    instances: int = 0
    dropped: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    skip_messages: list[str] = field(default_factory=list)

    def merge(self, other: BuildSummary) -> None:
        """Add the labelling counts of another process (plan counts are the same everywhere)."""
        self.tiles_written += other.tiles_written
        self.tiles_without_masks += other.tiles_without_masks
        self.instances += other.instances
        self.dropped.update({k: v for k, v in other.dropped.items() if k.startswith("labeling:")})
        self.skipped.update({k: v for k, v in other.skipped.items() if k == "unreadable_image"})
        self.skip_messages = list(dict.fromkeys(self.skip_messages + other.skip_messages))

    def format(self) -> str:
        lines = [
            f"images read: {self.images}",
            f"tiles with objects: {self.tiles} (skipped without objects: {self.tiles_without_objects})",
            f"tiles already in committed shards (resumed): {self.tiles_already_done}",
            f"tiles written: {self.tiles_written} (skipped, no mask left: {self.tiles_without_masks})",
            f"instances written: {self.instances}",
        ]
        lines += [f"dropped objects, {reason}: {n}" for reason, n in sorted(self.dropped.items())]
        lines += [f"skipped (--skip-bad), {reason}: {n}" for reason, n in sorted(self.skipped.items())]
        lines += [f"  {message}" for message in self.skip_messages[:SHOWN_SKIPS]]
        if len(self.skip_messages) > SHOWN_SKIPS:
            lines.append(f"  ... and {len(self.skip_messages) - SHOWN_SKIPS} more")
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
        with tqdm(islice(source, options.limit), desc=f"reading {split}", unit="image", leave=False) as scenes:
            for scene in scenes:
                summary.images += 1
                for tile in tile_scene(scene, recipe.tiling, summary.dropped):
                    if tile.objects:
                        planned.append(PlannedTile(hf_split_name(split), tile))
                    else:
                        summary.tiles_without_objects += 1
        summary.skipped.update(source.report.counts)
        summary.skip_messages += source.report.messages
    summary.tiles = len(planned)
    return planned


@dataclass
class LoadedScene:
    """A scene's tiles cropped from its image (``images``), or the error that kept it from being read."""

    tiles: list[PlannedTile]
    images: list[Image.Image] = field(default_factory=list)
    original: bytes | None = None
    error: Exception | None = None


def _load_scene(tiles: list[PlannedTile]) -> LoadedScene:
    """Read a scene once and crop its tiles; keep the file's bytes when the only tile is the whole image."""
    scene = tiles[0].tile.scene
    try:
        image = scene.read()
        whole = len(tiles) == 1 and tiles[0].tile.box == (0, 0, image.width, image.height)
        original = _original_bytes(scene.image_path) if whole else None
    except (OSError, ValueError) as error:
        return LoadedScene(tiles, error=error)
    return LoadedScene(tiles, [image.crop(p.tile.box) for p in tiles], original)


def _original_bytes(path: Path) -> bytes | None:
    """The image file's bytes when it is an RGB JPEG or PNG (stored as is, no re-encoding)."""
    with open_image(path) as image:
        if image.format not in ("JPEG", "PNG") or image.mode != "RGB":
            return None
    return path.read_bytes()


def label_tile(
    labeler: SamLabeler,
    image: Image.Image,
    tile: Tile,
    recipe: SubsetRecipe,
    prompt: str,
    encoding: ImageEncoding | None = None,
) -> LabelMapBuilder:
    """Label ``tile``'s objects with SAM (from ``encoding`` when given) and paint them into a label map
    in the recipe's class order."""
    maps = LabelMapBuilder(tile.height, tile.width, recipe.classes, recipe.release_name)
    return maps.add_all(labeler.label_objects(image, tile.objects, prompt, encoding=encoding))


def build_settings(recipe: SubsetRecipe, options: BuildOptions, prompt: str, labeler: SamLabeler) -> dict:
    """What determines the rows of a subset: resuming with other settings would mix two datasets.

    The model is compared by its configuration's hash (``model_config``), so two spellings of one
    folder are the same setting; ``model`` is kept for people to read.
    """
    return {
        "subset": recipe.name,
        "model": labeler.model_id,
        "model_config": labeler.config_hash,
        "dtype": str(labeler.dtype).removeprefix("torch."),
        "prompt": prompt,
        "decoding": str(labeler.decoding) or "single mask (the paper's)",
        "source": recipe.source,
        "source_kwargs": recipe.source_kwargs,
        "tiling": asdict(recipe.tiling),
    } | ({"classes": list(recipe.classes)} if not get_subset(recipe.name).classes else {})


def _cpu_requested(options: BuildOptions) -> bool:
    """CPU processes: ``--device cpu`` or ``accelerate launch --cpu`` (lets torchrun-launched CPU ranks join gloo)."""
    return options.device == "cpu" or parse_flag_from_env("ACCELERATE_USE_CPU")


def build_subset(options: BuildOptions, labeler: SamLabeler | None = None) -> BuildSummary:
    """Build (or resume) ``options.subset`` into ``options.out``; returns the summary of all processes.

    ``labeler``: an already loaded one (its model, device, dtype and decoding replace the options').
    Raises ``ValueError`` when no tile of the subset could be written at all.
    """
    recipe = get_subset(options.subset)
    if not recipe.classes:  # a source with its own classes (coco)
        recipe = recipe.with_classes(get_source(recipe.source)(options.root, **recipe.source_kwargs).classes)
    prompt = options.prompt or recipe.prompt
    state = PartialState(cpu=_cpu_requested(options))
    labeler = labeler or SamLabeler(
        options.model,
        options.device or state.device,
        options.dtype,
        options.prompt_batch_size,
        options.decoding,
        options.compile,
    )
    writer = SubsetWriter(options.out, recipe, state, options.rows_per_shard)
    done = writer.prepare(build_settings(recipe, options, prompt, labeler), overwrite=options.overwrite)
    summary = BuildSummary()
    planned = plan_tiles(recipe, options, summary)
    todo = [p for p in planned if (p.split, p.tile.image_id) not in done]
    summary.tiles_already_done = len(planned) - len(todo)
    with state.split_between_processes(todo) as mine:
        _label_tiles(mine, labeler, writer, options, recipe, prompt, summary)
    total = _gather(summary)
    writer.finish()
    if not shard_files(writer.folder):
        raise ValueError(
            f"no tile of {recipe.name} was written to {options.out} ({total.images} images read, "
            f"{total.tiles} tiles with objects, {sum(total.skipped.values())} files skipped); "
            "check --root and --split, or drop --limit"
        )
    return total


def _label_tiles(
    tiles: list[PlannedTile],
    labeler: SamLabeler,
    writer: SubsetWriter,
    options: BuildOptions,
    recipe: SubsetRecipe,
    prompt: str,
    summary: BuildSummary,
) -> None:
    """Label ``tiles`` (one process's share) and hand their rows to this rank's writer thread.

    Tiles are encoded ``image_batch_size`` at a time. Tiles whose masks all come back empty get no
    row (and are labelled again by a resume).
    """
    scenes = [list(g) for _, g in groupby(tiles, key=lambda p: (p.split, p.tile.scene.image_id))]
    rank = writer.state.process_index
    batch_size = options.image_batch_size or IMAGE_BATCH_SIZES.get(labeler.device.type, 1)
    raw_root = options.root if options.root.is_dir() else options.root.parent  # coco: the instance file's folder
    loaded = prefetch((partial(_load_scene, s) for s in scenes), workers=1, ahead=2)
    with writer.open() as put, tqdm(total=len(tiles), desc=f"labeling {recipe.name} [rank {rank}]", unit="tile") as bar:
        for batch in _batches(_readable_tiles(loaded, options.skip_bad, summary, bar), batch_size):
            encodings = labeler.encode_batch([image for _, image, _ in batch])
            for (planned, image, original), encoding in zip(batch, encodings):
                maps = label_tile(labeler, image, planned.tile, recipe, prompt, encoding)
                summary.dropped.update({f"labeling: {k}": v for k, v in maps.dropped.items()})
                bar.update()
                if not maps.records:
                    summary.tiles_without_masks += 1
                    continue
                make_row = partial(tile_row, planned.tile, image, maps.semantic_map(), maps.records, raw_root, original)
                put(planned.split, make_row)
                summary.tiles_written += 1
                summary.instances += len(maps.records)


def _readable_tiles(
    scenes: Iterable[LoadedScene], skip_bad: bool, summary: BuildSummary, bar: tqdm
) -> Iterator[tuple[PlannedTile, Image.Image, bytes | None]]:
    """Each tile of each scene that could be read; an unreadable scene raises, or with ``skip_bad`` is counted."""
    for scene in scenes:
        if scene.error is not None:
            if not skip_bad:
                raise scene.error
            summary.skipped["unreadable_image"] += 1
            summary.skip_messages.append(str(scene.error))
            bar.update(len(scene.tiles))
            continue
        for planned, image in zip(scene.tiles, scene.images):
            yield planned, image, scene.original


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last one shorter)."""
    items = iter(items)
    while batch := list(islice(items, size)):
        yield batch


def _gather(summary: BuildSummary) -> BuildSummary:
    """The counts of all processes, summed."""
    gathered = gather_object([summary])
    total = gathered[0]
    for other in gathered[1:]:
        total.merge(other)
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
