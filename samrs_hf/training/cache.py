"""SAMRS samples for training: decoded from the Parquet PNGs per sample (:class:`HubSegSource`), or read
from the decoded training cache (:class:`CachedSegSource`), a split's images and label maps as raw
uint8 arrays, memory-mapped.

Decoding a 1024x1024 tile's image and label PNGs takes ~30 ms, several times the rest of a SEP
sample; read from this cache, a sample costs only the pixels of its crop window. Layout of a cache
folder (written by ``samrs prepare-training``; one sub-folder per config and split)::

    sota/train/tiles.npy    (N, 3) int64: first pixel, height, width of each row's tile
    sota/train/images.npy   1-D uint8, 3 bytes per pixel (RGB), tiles one after another
    sota/train/labels.npy   1-D uint8, 1 byte per pixel
    sota/train/meta.json    rows, a hash of the image ids and the encoded size of the split it came from

4 bytes per pixel: 4 MiB per 1024x1024 tile, ~2x the Parquet (PNG) size of aerial images. The
default folder is under ``datasets``' cache (``HF_DATASETS_CACHE``), one per dataset folder or Hub id.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from datasets import Dataset
from tqdm.auto import tqdm

FORMAT = "samrs-training-cache/1"
TILES, IMAGES, LABELS, META = "tiles.npy", "images.npy", "labels.npy", "meta.json"
CHUNK = 32


class HubSegSource:
    """One split of a SAMRS config: its ``image`` and ``semantic_map`` columns as arrays."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset.select_columns(["image", "semantic_map"])

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        row = self.dataset[int(index)]
        return np.asarray(row["image"].convert("RGB")), np.asarray(row["semantic_map"].convert("L"))


def default_cache_dir(dataset: str) -> Path:
    """``HF_DATASETS_CACHE/samrs_training/NAME-HASH`` for a dataset folder (by its absolute path) or Hub id."""
    from datasets import config

    local = Path(dataset).expanduser()
    key = str(local.resolve()) if local.exists() else dataset
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(config.HF_DATASETS_CACHE) / "samrs_training" / f"{Path(key).name}-{digest}"


def split_folder(cache: str | Path, config: str, split: str) -> Path:
    return Path(cache) / config / split


def source_key(dataset: Dataset) -> dict:
    """What identifies the split a cache was made from: row count, image ids (in order), encoded size."""
    ids = "\n".join(dataset.data.column("image_id").to_pylist())
    return {
        "rows": len(dataset),
        "image_ids_sha256": hashlib.sha256(ids.encode()).hexdigest(),
        "encoded_bytes": dataset.data.nbytes,
    }


def _decode_rows(dataset: Dataset, folder: Path, start: int, stop: int) -> int:
    """Decode rows ``start..stop-1`` into the (pre-sized) arrays in ``folder``; returns how many."""
    rows = HubSegSource(dataset)
    tiles = np.load(folder / TILES)
    images = np.load(folder / IMAGES, mmap_mode="r+")
    labels = np.load(folder / LABELS, mmap_mode="r+")
    for index in range(start, stop):
        image, label = rows[index]
        offset, height, width = (int(v) for v in tiles[index])
        if label.shape != (height, width) or image.shape[:2] != (height, width):
            image_id = dataset[index]["image_id"]
            raise ValueError(
                f"row {index} ({image_id}): image {image.shape[:2]} / label {label.shape} differ from its "
                f"width x height {width} x {height}"
            )
        images[3 * offset : 3 * (offset + height * width)] = image.reshape(-1)
        labels[offset : offset + height * width] = label.reshape(-1)
    images.flush()
    labels.flush()
    return stop - start


def write_cache(dataset: Dataset, folder: str | Path, workers: int = 1, description: str = "decode") -> Path:
    """Decode every row of a SAMRS split (``image``, ``semantic_map``, ``width``, ``height`` columns) into
    ``folder``, with ``workers`` processes; written to ``folder.tmp`` and renamed when complete."""
    folder = Path(folder)
    if not len(dataset):
        raise ValueError(f"no rows to cache for {folder}")
    partial = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    heights = np.asarray(dataset.data.column("height").to_pylist(), dtype=np.int64)
    widths = np.asarray(dataset.data.column("width").to_pylist(), dtype=np.int64)
    pixels = heights * widths
    offsets = np.cumsum(pixels) - pixels
    np.save(partial / TILES, np.stack([offsets, heights, widths], axis=1))
    total = int(pixels.sum())
    for name, length in ((IMAGES, 3 * total), (LABELS, total)):
        np.lib.format.open_memmap(partial / name, mode="w+", dtype=np.uint8, shape=(length,)).flush()
    chunks = [(start, min(start + CHUNK, len(dataset))) for start in range(0, len(dataset), CHUNK)]
    with tqdm(total=len(dataset), desc=description, unit="tile") as bar:
        if workers <= 1:
            for start, stop in chunks:
                bar.update(_decode_rows(dataset, partial, start, stop))
        else:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                for done in pool.map(_decode_rows, *zip(*[(dataset, partial, a, b) for a, b in chunks])):
                    bar.update(done)
    meta = {"format": FORMAT, **source_key(dataset)}
    (partial / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)
    return folder


class CachedSegSource:
    """One cached split as a source: ``source[i]`` is a pair of read-only memory-mapped views, so a crop
    reads only its window. Pickles as its folder (DataLoader workers map the files themselves)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.tiles = np.load(self.folder / TILES)
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.tiles)

    def __getstate__(self) -> dict:
        return {"folder": self.folder, "tiles": self.tiles, "_arrays": None}

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if self._arrays is None:
            self._arrays = (np.load(self.folder / IMAGES, mmap_mode="r"), np.load(self.folder / LABELS, mmap_mode="r"))
        images, labels = self._arrays
        offset, height, width = (int(v) for v in self.tiles[index])
        end = offset + height * width
        return images[3 * offset : 3 * end].reshape(height, width, 3), labels[offset:end].reshape(height, width)


def open_cache(folder: str | Path, dataset: Dataset) -> CachedSegSource:
    """The cache in ``folder``, checked against the split it stands for."""
    folder = Path(folder)
    meta_path = folder / META
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{folder} is not a training cache (no {META}); write one with `samrs prepare-training`"
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    expected = {"format": FORMAT, **source_key(dataset)}
    if meta != expected:
        changed = ", ".join(key for key in expected if meta.get(key) != expected[key])
        raise ValueError(
            f"training cache {folder} was made from another version of this split ({changed} differ): "
            "run `samrs prepare-training` again or delete the folder"
        )
    return CachedSegSource(folder)
