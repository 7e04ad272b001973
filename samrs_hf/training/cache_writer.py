"""Writing the decoded training cache (layout and checks: :mod:`samrs_hf.training.cache`).

:func:`prepare_training_cache` is ``samrs prepare-training``: every config and split of a SAMRS dataset,
decoded by worker processes. It may be pointed at any folder:

* it replaces only folders that hold a cache's ``meta.json`` (written first, so a cache cut short by a
  crash is recognised too), and refuses any other before reading a row;
* it knows the size before writing (4 bytes per pixel) and checks the free space first; the arrays are
  written with plain file writes, so a disk that fills up anyway is an ``OSError``, never a SIGBUS;
* a split is written to ``NAME.tmp`` and renamed when complete (``meta.json`` last, atomically); a
  failure removes the partial folder;
* its decode workers exit when it dies, even by ``kill -9``.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import multiprocessing
import os
import shutil
import threading
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from datasets import Dataset
from tqdm.auto import tqdm

from samrs_hf.dataset.atomic import write_atomic
from samrs_hf.dataset.folder import load_subset, subset_splits
from samrs_hf.training.cache import (
    FORMAT,
    FORMAT_FAMILY,
    IMAGES,
    LABELS,
    META,
    TILES,
    HubSegSource,
    default_cache_dir,
    num_classes,
    read_meta,
    source_key,
    split_folder,
    tile_layout,
    total_pixels,
)

__all__ = ["cache_bytes", "prepare_training_cache", "write_cache"]

CHUNK = 32
"""Rows per task of a decode worker."""
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
PARENT_POLL_S = 0.5


def prepare_training_cache(
    dataset: str, configs: Sequence[str], splits: Sequence[str], out: str | Path | None = None, workers: int = 1
) -> list[str]:
    """Write the cache of each of ``configs``' ``splits`` that the dataset has into ``out`` (default: where
    training looks, :func:`~samrs_hf.training.cache.default_cache_dir`); returns one line per split."""
    out = Path(out) if out else default_cache_dir(dataset)
    report, jobs = [], []
    for config in configs:
        present = subset_splits(dataset, config)
        for split in splits:
            if split in present:
                jobs.append((config, split, _check_replaceable(split_folder(out, config, split))))
            else:
                report.append(f"{config}: no {split!r} split (has {', '.join(present)}): skipped")
    loaded = [(load_subset(dataset, config, split), folder, f"{config}/{split}") for config, split, folder in jobs]
    replaced = sum(_disk_bytes(path) for _, folder, _ in loaded for path in (folder, _partial(folder)))
    _require_space(out, sum(cache_bytes(rows) for rows, _, _ in loaded), replaced)
    for rows, folder, name in loaded:
        write_cache(rows, folder, workers, name)
        report.append(f"wrote {folder} ({len(rows)} tiles)")
    return report


def cache_bytes(dataset: Dataset) -> int:
    """Bytes the cache of ``dataset`` takes: 4 per pixel, the index, headers and metadata."""
    return 4 * total_pixels(tile_layout(dataset)) + 32 * len(dataset) + 4096


def write_cache(dataset: Dataset, folder: str | Path, workers: int = 1, description: str = "decode") -> Path:
    """Decode every row of a SAMRS split (``image``, ``semantic_map``, ``width``, ``height`` columns) into
    ``folder``, with ``workers`` processes; written to ``folder.tmp`` and renamed when complete. ``folder``
    (and ``folder.tmp``) may only be a training cache already, which is replaced."""
    folder = _check_replaceable(Path(folder))
    if not len(dataset):
        raise ValueError(f"no rows to cache for {folder}")
    partial = _partial(folder)
    layout = tile_layout(dataset)
    _remove(partial)
    needed = cache_bytes(dataset)
    _require_space(folder.parent, needed)
    partial.mkdir(parents=True)
    try:
        write_atomic(partial / META, json.dumps({"format": FORMAT}))  # marks the folder as a cache first
        _fill(dataset, partial, layout, workers, description)
    except BaseException as error:
        _remove(partial)
        if isinstance(error, OSError) and error.errno in DISK_FULL:
            raise OSError(
                error.errno,
                f"{error.strerror} while writing the training cache {partial} ({_size(needed)} needed); "
                "free space or pass --out on another disk",
            ) from None
        raise
    _remove(folder)
    os.replace(partial, folder)
    return folder


def _fill(dataset: Dataset, partial: Path, layout: np.ndarray, workers: int, description: str) -> None:
    """Decode the rows into the arrays in ``partial``, then write the index and the complete ``meta.json``."""
    pixels = total_pixels(layout)
    offsets = (_create_array(partial / IMAGES, 3 * pixels), _create_array(partial / LABELS, pixels))
    classes = num_classes(dataset)
    starts = range(0, len(layout), CHUNK)
    chunks = [(dataset, partial, offsets, start, layout[start : start + CHUNK], classes) for start in starts]
    crcs: list[int] = []
    with ExitStack() as stack:
        if workers > 1:
            context = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(workers, context, initializer=_exit_with_parent, initargs=(os.getpid(),))
            results = stack.enter_context(pool).map(_decode_rows, *zip(*chunks))
        else:
            results = (_decode_rows(*chunk) for chunk in chunks)
        with tqdm(total=len(dataset), desc=description, unit="tile") as bar:
            for done in results:
                crcs += done
                bar.update(len(done))
    for name in (IMAGES, LABELS):
        with open(partial / name, "rb") as file:
            os.fsync(file.fileno())
    index = io.BytesIO()
    np.save(index, np.column_stack([layout, np.asarray(crcs, dtype=np.int64)]))
    write_atomic(partial / TILES, index.getvalue())
    meta = {"format": FORMAT, **source_key(dataset), "tiles_sha256": hashlib.sha256(index.getvalue()).hexdigest()}
    write_atomic(partial / META, json.dumps(meta, indent=2))


def _create_array(path: Path, length: int) -> int:
    """A 1-D uint8 ``.npy`` file of ``length`` bytes, not yet written (sparse); returns where its data begins."""
    with open(path, "wb") as file:
        np.lib.format.write_array_header_1_0(file, {"descr": "|u1", "fortran_order": False, "shape": (length,)})
        offset = file.tell()
        file.truncate(offset + length)
    return offset


def _decode_rows(
    dataset: Dataset, folder: Path, offsets: tuple[int, int], start: int, layout: np.ndarray, classes: int
) -> list[int]:
    """Decode rows ``start..`` (one per ``layout`` row) into the arrays in ``folder``, each checked against
    its width and height and its label values below ``classes`` (or 255); returns their labels' CRC-32."""
    rows, crcs = HubSegSource(dataset), []
    with open(folder / IMAGES, "r+b") as images, open(folder / LABELS, "r+b") as labels:
        for index, (offset, height, width) in enumerate(layout.tolist(), start):
            image, label = (np.ascontiguousarray(pixels) for pixels in rows[index])
            if label.shape != (height, width) or image.shape[:2] != (height, width):
                raise ValueError(
                    f"row {index} ({dataset[index]['image_id']}): image {image.shape[:2]} / label {label.shape} "
                    f"differ from its width x height {width} x {height}"
                )
            foreign = np.flatnonzero(np.bincount(label.ravel(), minlength=256)[classes:255]) + classes
            if foreign.size:
                raise ValueError(
                    f"row {index} ({dataset[index]['image_id']}): its semantic map holds {foreign[:5].tolist()}, "
                    f"not class indices below {classes} or 255; the dataset is damaged: rebuild it"
                )
            images.seek(offsets[0] + 3 * offset)
            images.write(image)
            labels.seek(offsets[1] + offset)
            labels.write(label)
            crcs.append(zlib.crc32(label))
    return crcs


def _exit_with_parent(parent: int) -> None:
    """Decode worker initializer: a thread that ends the worker when ``parent`` is gone (a worker whose
    parent was killed would otherwise wait for work forever)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="samrs-exit-with-parent", daemon=True).start()


def _is_cache(folder: Path) -> bool:
    """Whether ``folder`` is a (possibly partial) training cache: its ``meta.json`` names our format."""
    try:
        return not folder.is_symlink() and str(read_meta(folder).get("format", "")).startswith(FORMAT_FAMILY)
    except OSError:
        return False


def _partial(folder: Path) -> Path:
    """Where the cache ``folder`` is written before it is complete."""
    return folder.with_name(folder.name + ".tmp")


def _check_replaceable(folder: Path) -> Path:
    """Refuse to write the cache ``folder`` when it, or its partial folder, exists and is not a training cache;
    returns ``folder``."""
    for path in (folder, _partial(folder)):
        if (path.exists() or path.is_symlink()) and not _is_cache(path):
            raise FileExistsError(
                f"{path} exists and is not a training cache (no {META} of `samrs prepare-training`); nothing "
                "was deleted: move it away or pass another --out"
            )
    return folder


def _remove(folder: Path) -> None:
    """Delete the training cache ``folder`` (checked by :func:`_check_replaceable`), if there."""
    if folder.exists():
        shutil.rmtree(folder)


def _disk_bytes(folder: Path) -> int:
    """Disk space the files of ``folder`` take (0 when there is none)."""
    return sum(path.stat().st_blocks * 512 for path in folder.glob("*") if path.is_file()) if folder.is_dir() else 0


def _require_space(where: Path, needed: int, freed: int = 0) -> None:
    """Refuse to start writing ``needed`` bytes under ``where`` when its disk has less free space
    (plus ``freed``, what the caches being replaced give back)."""
    existing = next(path for path in (where, *where.parents) if path.exists())
    free = shutil.disk_usage(existing).free + freed
    if needed > free:
        raise OSError(
            errno.ENOSPC,
            f"the training cache needs {_size(needed)} in {where} and {existing}'s disk has {_size(free)} free "
            "(counting the caches it replaces); free space or pass --out on another disk",
        )


def _size(size: int) -> str:
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"
