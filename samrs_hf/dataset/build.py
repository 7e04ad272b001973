"""Build a SAMRS subset: read a detection dataset, tile it, label every tile with SAM, write shards.

Flow: source reader -> :func:`~samrs_hf.labeling.tiling.tile_scene` ->
:meth:`SamLabeler.label_objects <samrs_hf.labeling.labeler.SamLabeler.label_objects>` (the subset's
prompt) -> :class:`~samrs_hf.labeling.maps.LabelMapBuilder` -> :func:`~samrs_hf.dataset.schema.tile_row`.

:class:`BuildJob` is a :class:`~samrs_hf.dataset.job.SubsetJob` (lock, resume, processes, publishing).
Its options are checked first (:meth:`BuildOptions.checked <samrs_hf.dataset.build_options.BuildOptions.checked>`:
nothing is read or loaded before). Its work items are the tiles with objects; planning reads every annotation
and checks every image's header against it, so a bad file stops the build (or, with ``skip_bad``, is skipped
and named) before the model is loaded, which happens only once the resume has accepted the settings.
Objects the readers and the tiler drop are counted in the summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property, partial
from itertools import groupby, islice
from typing import TypeVar

import torch
from accelerate import PartialState
from accelerate.utils import parse_flag_from_env
from PIL import Image
from tqdm.auto import tqdm
from transformers import AutoConfig

from samrs_hf.checkpoints import cache_only
from samrs_hf.dataset.build_options import BuildOptions
from samrs_hf.dataset.job import JobSummary, Row, SubsetJob, prefetch, shown, skip_or_raise
from samrs_hf.dataset.schema import tile_row
from samrs_hf.dataset.subsets import SubsetRecipe, get_subset, hf_split_name
from samrs_hf.labeling.backends import load_backend
from samrs_hf.labeling.labeler import ImageEncoding, SamLabeler, config_hash, resolve_dtype
from samrs_hf.labeling.maps import LabelMapBuilder
from samrs_hf.labeling.tiling import Tile, tile_scene
from samrs_hf.records import ImageReadError, SourceImage
from samrs_hf.sources import get_source
from samrs_hf.sources.base import DROPPED_OBJECTS

__all__ = ["BuildJob", "BuildOptions", "BuildSummary", "PlannedTile", "build_subset", "label_tile", "plan_tiles"]

T = TypeVar("T")
IMAGE_BATCH_SIZES = {"cpu": 1, "cuda": 4}
"""Default tiles per encoder call: a CPU gains nothing from batching the encoder (it is compute-bound
already); on a GPU a few tiles per call fill it better (``benchmarks/gpu.py`` times 1, 4 and 8;
``benchmarks/README.md`` says what has been measured)."""


@dataclass
class BuildSummary(JobSummary):
    """Counts of one build (summed over processes) and the messages naming what was skipped or dropped."""

    images: int = 0
    tiles: int = 0
    tiles_without_objects: int = 0
    tiles_without_masks: int = 0
    dropped: Counter = field(default_factory=Counter)
    drop_messages: list[str] = field(default_factory=list)

    def plan_counts(self) -> str:
        return f"{self.images} images read, {self.tiles} tiles with objects"

    def format(self) -> str:
        lines = [
            f"images read: {self.images}",
            f"tiles with objects: {self.tiles} (skipped without objects: {self.tiles_without_objects})",
            f"tiles already in committed shards (resumed): {self.already_done}",
            f"tiles written: {self.written} (skipped, no mask left: {self.tiles_without_masks})",
            f"instances written: {self.instances}",
            *self.skip_lines(),
            *(f"dropped objects, {reason}: {n}" for reason, n in sorted(self.dropped.items())),
            *shown(self.drop_messages),
        ]
        return "\n".join(lines)


@dataclass
class PlannedTile:
    """A tile to label and the dataset split its row goes to."""

    split: str
    tile: Tile


def plan_tiles(recipe: SubsetRecipe, options: BuildOptions, summary: BuildSummary) -> list[PlannedTile]:
    """Tiles with objects of every requested split, in a fixed order; fills the plan counts of ``summary``.

    Every image's header is checked against its annotation (nothing is decoded): a file that is no
    image or has another size raises (suggesting ``--skip-bad``), or with ``skip_bad`` is skipped.
    """
    planned = []
    source_class = get_source(recipe.source)
    for split in options.splits or recipe.splits:
        source = source_class(
            options.root, split=None if split == "all" else split, skip_bad=options.skip_bad, **recipe.source_kwargs
        )
        with tqdm(islice(source, options.limit), desc=f"reading {split}", unit="image", leave=False) as scenes:
            for scene in scenes:
                summary.images += 1
                if not _header_ok(scene, summary, options.skip_bad):
                    continue
                for tile in tile_scene(scene, recipe.tiling, summary.dropped):
                    if tile.objects:
                        planned.append(PlannedTile(hf_split_name(split), tile))
                    else:
                        summary.tiles_without_objects += 1
        for reason, message in source.report.entries:
            if reason in DROPPED_OBJECTS:
                summary.dropped[reason] += 1
                summary.drop_messages.append(message)
            else:
                summary.skip(reason, message)  # only a skip_bad reader skips
    summary.tiles = len(planned)
    return planned


def _header_ok(scene: SourceImage, summary: BuildSummary, skip_bad: bool) -> bool:
    """Whether ``scene``'s image header matches its annotation; a mismatch raises or, with ``skip_bad``, is skipped."""
    try:
        scene.check_header()
    except (OSError, ValueError) as error:
        reason = "unreadable_image" if isinstance(error, ImageReadError) else "size_mismatch"
        skip_or_raise(error, reason, summary, skip_bad)
        return False
    return True


@dataclass
class LoadedScene:
    """A scene's tiles cropped from its image (``images``), or the error that kept it from being read."""

    tiles: list[PlannedTile]
    images: list[Image.Image] = field(default_factory=list)
    original: bytes | None = None
    error: Exception | None = None


def _load_scene(tiles: list[PlannedTile]) -> LoadedScene:
    """Read a scene once, in its annotation's frame, and crop its tiles; keep the file's bytes when the only
    tile is the whole image and ``datasets`` loads them as exactly its pixels."""
    scene = tiles[0].tile.scene
    try:
        decoded = scene.decode()
        image = decoded.rgb
        whole = len(tiles) == 1 and tiles[0].tile.box == (0, 0, image.width, image.height)
        original = scene.image_path.read_bytes() if whole and decoded.stored_as_is else None
        crops = [image.crop(p.tile.box) for p in tiles]
    except (OSError, ValueError) as error:
        return LoadedScene(tiles, error=error)
    except MemoryError:
        return LoadedScene(tiles, error=ImageReadError(f"{scene.image_path}: not enough memory to cut its tiles"))
    return LoadedScene(tiles, crops, original)


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


def _cpu_requested(options: BuildOptions) -> bool:
    """CPU processes: ``--device cpu`` or ``accelerate launch --cpu`` (lets torchrun-launched CPU ranks join gloo)."""
    return options.device == "cpu" or parse_flag_from_env("ACCELERATE_USE_CPU")


def build_subset(options: BuildOptions, labeler: SamLabeler | None = None) -> BuildSummary:
    """Build (or resume) ``options.subset`` into ``options.out``; returns the summary of all processes.

    ``labeler``: an already loaded one (its model, device, dtype and decoding replace the options').
    Raises ``ValueError`` / ``OSError`` for options that cannot work (before anything is read), and
    ``ValueError`` when no tile of the subset could be written at all.
    """
    return BuildJob(options, labeler).run()


class BuildJob(SubsetJob[PlannedTile]):
    """``samrs build``: a work item is a tile with objects; SAM labels it into a row."""

    verb = "labeling"
    hint = "check --root and --split, or drop --limit"

    def __init__(self, options: BuildOptions, labeler: SamLabeler | None = None):
        options = options.checked(check_model=labeler is None)
        recipe = get_subset(options.subset)
        if not recipe.classes:  # a source with its own classes (coco)
            recipe = recipe.with_classes(get_source(recipe.source)(options.root, **recipe.source_kwargs).classes)
        state = PartialState(cpu=_cpu_requested(options))
        super().__init__(recipe, options.out, state, options.rows_per_shard, options.skip_bad, options.overwrite)
        self.options, self.prompt, self._given_labeler = options, options.prompt, labeler

    @cached_property
    def labeler(self) -> SamLabeler:
        """The labeler given, or the options' model (checked already), loaded when first needed: to label."""
        if self._given_labeler is not None:
            return self._given_labeler
        options = self.options
        device = torch.device(options.device or self.state.device)
        backend = load_backend(options.model, device, resolve_dtype(options.dtype))
        return SamLabeler(backend, device, options.dtype, options.prompt_batch_size, options.decoding, options.compile)

    def new_summary(self) -> BuildSummary:
        return BuildSummary()

    def plan(self, summary: BuildSummary) -> list[PlannedTile]:
        return plan_tiles(self.recipe, self.options, summary)

    def key(self, item: PlannedTile) -> tuple[str, str]:
        return item.split, item.tile.image_id

    def settings(self) -> dict:
        """What determines the rows, in canonical form. The model is compared by its configuration's hash
        (``model_config``, read without loading the weights), so two spellings of one folder are the same
        setting (``model`` is kept for people to read)."""
        given, options = self._given_labeler, self.options
        if given is not None:
            model, config, dtype, decoding = given.model_id, given.model.config, given.dtype, given.decoding
        else:
            model, dtype, decoding = options.model, options.dtype, options.decoding
            config = AutoConfig.from_pretrained(model, local_files_only=cache_only(model))
        return {
            "subset": self.recipe.name,
            "model": model,
            "model_config": config_hash(config),
            "dtype": str(resolve_dtype(dtype)).removeprefix("torch."),
            "prompt": self.prompt,
            "decoding": str(decoding) or "single mask (the paper's)",
            "source": self.recipe.source,
            "source_kwargs": self.recipe.source_kwargs,
            "splits": list(self.options.splits or self.recipe.splits),
            "tiling": asdict(self.recipe.tiling),
        } | ({"classes": list(self.recipe.classes)} if not get_subset(self.recipe.name).classes else {})

    def rows(self, items: list[PlannedTile], summary: BuildSummary) -> Iterator[Row | None]:
        """Label ``items`` ``image_batch_size`` tiles per encoder call. Tiles whose masks all come back empty
        get no row (and are labelled again by a resume)."""
        scenes = [list(g) for _, g in groupby(items, key=lambda p: (p.split, p.tile.scene.image_id))]
        loaded = prefetch((partial(_load_scene, s) for s in scenes), workers=1, ahead=2)
        batch_size = self.options.image_batch_size or IMAGE_BATCH_SIZES.get(self.labeler.device.type, 1)
        for batch in _batches(self._readable(loaded, summary), batch_size):
            readable = [entry for entry in batch if entry is not None]
            yield from (None for _ in range(len(batch) - len(readable)))
            encodings = self.labeler.encode_batch([image for _, image, _ in readable]) if readable else []
            for (planned, image, original), encoding in zip(readable, encodings):
                yield self._row(planned, image, original, encoding, summary)

    def _row(
        self,
        planned: PlannedTile,
        image: Image.Image,
        original: bytes | None,
        encoding: ImageEncoding,
        summary: BuildSummary,
    ) -> Row | None:
        maps = label_tile(self.labeler, image, planned.tile, self.recipe, self.prompt, encoding)
        summary.dropped.update({f"labeling: {k}": v for k, v in maps.dropped.items()})
        if not maps.records:
            summary.tiles_without_masks += 1
            return None
        semantic = maps.semantic_map()
        root = self.options.root if self.options.root.is_dir() else self.options.root.parent  # coco: the file's folder
        make = partial(tile_row, planned.tile, image, semantic, maps.records, root, original)
        return Row(planned.split, make, len(maps.records))

    def _readable(
        self, scenes: Iterable[LoadedScene], summary: BuildSummary
    ) -> Iterator[tuple[PlannedTile, Image.Image, bytes | None] | None]:
        """Each tile of each scene, read; ``None`` for each tile of a scene that could not be read (skipped)."""
        for scene in scenes:
            if scene.error is not None:
                skip_or_raise(scene.error, "unreadable_image", summary, self.skip_bad)
                yield from (None for _ in scene.tiles)
                continue
            for planned, image in zip(scene.tiles, scene.images):
                yield planned, image, scene.original


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last one shorter)."""
    items = iter(items)
    while batch := list(islice(items, size)):
        yield batch
