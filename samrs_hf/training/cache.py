"""SAMRS samples for training: decoded from the Parquet PNGs per sample (:class:`HubSegSource`), or read
from the decoded training cache (:class:`CachedSegSource`), a split's images and label maps as raw
uint8 arrays, memory-mapped.

Decoding a tile's image and label PNGs costs several times the rest of a SEP sample (``benchmarks/README.md``,
"SEP input pipeline"); read from this cache, a sample costs only the pixels of its crop window. Layout of a cache
folder (written by ``samrs prepare-training``, :mod:`samrs_hf.training.cache_writer`; one sub-folder
per config and split)::

    sota/train/meta.json    format; rows, image ids, encoded size and class count of the split; tiles.npy's sha256
    sota/train/tiles.npy    (N, 4) int64: first pixel, height, width of each row's tile, CRC-32 of its labels
    sota/train/images.npy   1-D uint8, 3 bytes per pixel (RGB), tiles one after another
    sota/train/labels.npy   1-D uint8, 1 byte per pixel

4 bytes per pixel: 4 MiB per 1024x1024 tile, about twice the Parquet (PNG) size of aerial images. The
default folder is under ``datasets``' cache (``HF_DATASETS_CACHE``), one per dataset folder or Hub id.

What is checked, and when. Opening (:func:`open_cache`) reads no pixels: ``meta.json`` against the split,
``tiles.npy`` against its sha256 and against the split's widths and heights (so every tile lies inside
the arrays and none overlap), the arrays' file sizes against the index, before they are mapped. A
process reading a tile for the first time checks its labels against their CRC-32 (the label bytes of the
whole tile, once per process; image bytes are not checked: a damaged one changes a colour, not the
supervision). Label values were checked below the class count when the cache was written.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from pathlib import Path

import numpy as np
from datasets import Dataset

from samrs_hf.dataset.atomic import read_json_object
from samrs_hf.errors import DamagedFileError, summary

FORMAT = "samrs-training-cache/2"
FORMAT_FAMILY = "samrs-training-cache/"
"""How the ``format`` in a cache's ``meta.json`` begins, in every version: the mark of a folder samrs may replace."""
TILES, IMAGES, LABELS, META = "tiles.npy", "images.npy", "labels.npy", "meta.json"
META_BYTES = 2**16
PREPARE_AGAIN = "run `samrs prepare-training` again to replace it"


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


def num_classes(dataset: Dataset) -> int:
    """Classes of a SAMRS split (its ``objects.category`` labels): label values are below it, or 255."""
    return len(dataset.features["objects"].feature["category"].names)


def source_key(dataset: Dataset) -> dict:
    """What identifies the split a cache was made from: row count, image ids (in order), encoded size, classes."""
    ids = "\n".join(dataset.data.column("image_id").to_pylist())
    return {
        "rows": len(dataset),
        "image_ids_sha256": hashlib.sha256(ids.encode()).hexdigest(),
        "encoded_bytes": dataset.data.nbytes,
        "num_classes": num_classes(dataset),
    }


def tile_layout(dataset: Dataset) -> np.ndarray:
    """``(N, 3)`` int64: first pixel, height, width of each row's tile, one after another, from the split's
    ``height`` and ``width`` columns (a row without pixels is named)."""
    heights = np.asarray(dataset.data.column("height").to_pylist(), dtype=np.int64)
    widths = np.asarray(dataset.data.column("width").to_pylist(), dtype=np.int64)
    empty = np.flatnonzero((heights < 1) | (widths < 1))
    if empty.size:
        row = int(empty[0])
        raise ValueError(f"row {row} ({dataset[row]['image_id']}) is {widths[row]} x {heights[row]} pixels: no tile")
    pixels = heights * widths
    return np.stack([np.cumsum(pixels) - pixels, heights, widths], axis=1)


def total_pixels(tiles: np.ndarray) -> int:
    """Pixels of all tiles of an index (:func:`tile_layout`): where the last one ends."""
    return int(tiles[-1, 0] + tiles[-1, 1] * tiles[-1, 2]) if len(tiles) else 0


def read_meta(folder: Path) -> dict:
    """``folder/meta.json``: a ``FileNotFoundError`` when there is none, a ``DamagedFileError`` when unreadable."""
    path = Path(folder) / META
    if not path.is_file():
        raise FileNotFoundError(
            f"{folder} is not a training cache (no {META}); write one with `samrs prepare-training`"
        )
    try:
        meta = read_json_object(path, META_BYTES)
    except ValueError as error:
        raise DamagedFileError(
            f"{path}: not a training cache's metadata ({summary(error)}); delete {folder} and run "
            "`samrs prepare-training` again"
        ) from None
    return meta


class CachedSegSource:
    """One cached split as a source: ``source[i]`` is a pair of read-only memory-mapped views, so a crop
    reads only its window. Pickles as its folder and index (DataLoader workers map the files themselves).

    ``tiles`` is the checked index and ``data_offsets`` where the pixels of ``images.npy`` and
    ``labels.npy`` begin (:func:`open_cache` gives both). The first read of a tile in a process checks its
    labels against their CRC-32.
    """

    def __init__(self, folder: str | Path, tiles: np.ndarray, data_offsets: tuple[int, int]) -> None:
        self.folder, self.tiles, self.data_offsets = Path(folder), tiles, data_offsets
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None
        self._verified: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.tiles)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_arrays": None, "_verified": None}

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        if self._arrays is None:
            pixels = total_pixels(self.tiles)
            self._arrays = tuple(
                np.memmap(self.folder / name, np.uint8, "r", offset=offset, shape=(per_pixel * pixels,))
                for name, offset, per_pixel in zip((IMAGES, LABELS), self.data_offsets, (3, 1))
            )
            self._verified = np.zeros(len(self.tiles), dtype=bool)
        return self._arrays

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        images, labels = self._map()
        offset, height, width, crc = (int(v) for v in self.tiles[index])
        end = offset + height * width
        label = labels[offset:end]
        if not self._verified[index]:
            if zlib.crc32(label) != crc:
                raise DamagedFileError(
                    f"{self.folder / LABELS}: the labels of row {index} differ from their checksum in {TILES} "
                    f"(the file was altered); {PREPARE_AGAIN}"
                )
            self._verified[index] = True
        return images[3 * offset : 3 * end].reshape(height, width, 3), label.reshape(height, width)


def open_cache(folder: str | Path, dataset: Dataset) -> CachedSegSource:
    """The cache in ``folder``, checked against the split it stands for without reading its pixels:
    metadata, the index (its sha256 and the split's tile sizes), and the arrays' sizes before mapping them."""
    folder = Path(folder)
    meta = read_meta(folder)
    expected = {"format": FORMAT, **source_key(dataset)}
    changed = [key for key in expected if meta.get(key) != expected[key]]
    if changed:
        raise ValueError(
            f"training cache {folder} was made from another version of this split ({', '.join(changed)} differ): "
            "run `samrs prepare-training` again or delete the folder"
        )
    tiles = _read_index(folder, meta.get("tiles_sha256"), tile_layout(dataset))
    pixels = total_pixels(tiles)
    offsets = (_data_offset(folder / IMAGES, 3 * pixels), _data_offset(folder / LABELS, pixels))
    return CachedSegSource(folder, tiles, offsets)


def _read_index(folder: Path, sha256: str | None, layout: np.ndarray) -> np.ndarray:
    """``tiles.npy``, checked against the sha256 in ``meta.json`` and against ``layout`` (:func:`tile_layout`)."""
    path = folder / TILES
    if not path.is_file() or path.stat().st_size > 1024 + layout.nbytes * 2:
        raise DamagedFileError(f"{path}: missing or larger than the index of {len(layout)} tiles; {PREPARE_AGAIN}")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise DamagedFileError(f"{path}: differs from the checksum in {META} (the file was altered); {PREPARE_AGAIN}")
    tiles = np.load(io.BytesIO(data))
    if tiles.dtype != np.int64 or tiles.shape != (len(layout), 4):
        raise DamagedFileError(f"{path}: a {tiles.dtype} {tiles.shape} array, not ({len(layout)}, 4) int64")
    wrong = np.flatnonzero((tiles[:, :3] != layout).any(axis=1))
    if wrong.size:
        row = int(wrong[0])
        raise DamagedFileError(
            f"{path}: row {row} at (first pixel, height, width) {tuple(tiles[row, :3].tolist())}, "
            f"not {tuple(layout[row].tolist())} as the split's tile sizes put it; {PREPARE_AGAIN}"
        )
    return tiles


def _data_offset(path: Path, length: int) -> int:
    """Where the ``length`` bytes of the 1-D uint8 ``.npy`` file ``path`` begin, after checking that the file
    holds exactly them (mapping a file shorter than its array is a SIGBUS on reading the missing part)."""
    try:
        with open(path, "rb") as file:
            version = np.lib.format.read_magic(file)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(file)
            offset = file.tell()
    except (ValueError, KeyError) as error:
        raise DamagedFileError(f"{path}: not a .npy array ({summary(error)}); {PREPARE_AGAIN}") from None
    size = path.stat().st_size
    if shape != (length,) or dtype != np.uint8 or size != offset + length:
        raise DamagedFileError(
            f"{path}: {size} bytes holding a {dtype} {shape} array, not the {offset + length} bytes of the "
            f"({length},) uint8 array its index needs (cut short or altered); {PREPARE_AGAIN}"
        )
    return offset
