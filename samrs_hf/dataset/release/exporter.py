"""``samrs export-release``: a SAMRS folder's rows -> the release's layout, keys and types."""

from __future__ import annotations

import io
import json
import pickle
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from samrs_hf.dataset.release.format import RELEASE_PALETTE, SPLIT_FILES, TILES_FILE
from samrs_hf.dataset.release.instances import release_instances
from samrs_hf.dataset.schema import file_stem
from samrs_hf.dataset.subsets import SubsetRecipe, get_subset


@dataclass
class ExportSummary:
    """What an export wrote: tiles per split, instances, and images re-encoded to the release's format."""

    tiles: Counter = field(default_factory=Counter)
    instances: int = 0
    reencoded: int = 0

    def format(self) -> str:
        tiles = ", ".join(f"{split} {n}" for split, n in self.tiles.items())
        return (
            f"tiles written: {tiles}\ninstances written: {self.instances}\n"
            f"images re-encoded to the release's format: {self.reencoded}"
        )


_FORMATS = {".png": "PNG", ".jpg": "JPEG"}


def _encoded(data: bytes, suffix: str) -> tuple[bytes, bool]:
    """``(bytes, re-encoded)``: ``data`` as is in ``suffix``'s format, else re-encoded (JPEG at quality 95)."""
    with Image.open(io.BytesIO(data)) as image:
        if image.format == _FORMATS[suffix]:
            return data, False
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format=_FORMATS[suffix], quality=95)
    return buffer.getvalue(), True


def _write_release_tile(row: dict, out: Path, recipe: SubsetRecipe, where: str) -> tuple[int, bool]:
    """Write one row's image, gray and color maps and pkl; returns (instances, image re-encoded)."""
    release = recipe.release
    name = file_stem(row["image_id"], where)
    data, reencoded = _encoded(row["image"]["bytes"], release.suffix)
    (out / release.images / f"{name}{release.suffix}").write_bytes(data)
    gray = row["semantic_map"]["bytes"]
    with Image.open(io.BytesIO(gray)) as png:
        if (png.format, png.mode) != ("PNG", "L"):
            raise ValueError(f"{where}: the semantic map is a {png.format} of mode {png.mode}, not a mode-L PNG")
        semantic = np.asarray(png)
    segs = out / release.segs
    (segs / "gray" / f"{name}.png").write_bytes(gray)
    Image.fromarray(RELEASE_PALETTE[semantic]).save(segs / "color" / f"{name}.png")
    instances = release_instances(row["objects"], recipe, where)
    with open(segs / "ins" / f"{name}.pkl", "wb") as file:
        pickle.dump(instances, file, protocol=4)
    return len(instances), reencoded


def export_release(dataset_dir: Path, config: str, out: Path, splits: list[str] | None = None) -> ExportSummary:
    """Write ``config``'s ``splits`` (default: all) of the SAMRS folder ``dataset_dir`` in the release layout.

    ``out`` must be new or empty. Split lists: ``train`` -> ``train.txt``, ``validation`` ->
    ``valid.txt``, any other split ``{split}.txt``. A name in two splits is refused (the release
    holds one file per name). Images are written as stored when their format is the release's
    (PNG for SOTA/FAST, JPEG for SIOR), else re-encoded (counted: JPEG is lossy). Each tile's
    ``source`` and ``tile`` go to :data:`~samrs_hf.dataset.release.format.TILES_FILE`, which the import reads.
    """
    from datasets import Image as ImageFeature

    from samrs_hf.dataset.folder import load_subset
    from samrs_hf.dataset.job import prefetch

    recipe, out = get_subset(config), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"--out {out} exists and is not an empty folder; export into a new or empty folder")
    dataset = load_subset(dataset_dir, config)
    unknown = sorted(set(splits or ()) - set(dataset))
    if unknown:
        raise ValueError(f"{dataset_dir}: {config} has no split {', '.join(unknown)} (it has {', '.join(dataset)})")
    splits = splits or list(dataset)
    names = {split: dataset[split]["image_id"] for split in splits}
    seen: dict[str, str] = {}
    for split in splits:
        for name in names[split]:
            if seen.setdefault(name, split) != split:
                raise ValueError(f"{dataset_dir}: {name!r} is in both {seen[name]} and {split}; export one of them")
    release = get_subset(config).release
    for folder in (out / release.images, *(out / release.segs / kind for kind in ("gray", "color", "ins"))):
        folder.mkdir(parents=True, exist_ok=True)
    summary, origins = ExportSummary(), {}
    for split in splits:
        rows = dataset[split].cast_column("image", ImageFeature(decode=False))
        rows = rows.cast_column("semantic_map", ImageFeature(decode=False))
        where = f"{dataset_dir} {config}/{split}"
        jobs = (partial(_write_release_tile, row, out, recipe, where) for row in rows)
        for instances, reencoded in tqdm(prefetch(jobs, 4, 8), total=len(rows), desc=f"exporting {config}/{split}"):
            summary.instances += instances
            summary.reencoded += reencoded
        (out / SPLIT_FILES.get(split, f"{split}.txt")).write_text("".join(f"{n}\n" for n in names[split]), "utf-8")
        summary.tiles[split] = len(rows)
        origins.update(zip(names[split], ([s, *t] for s, t in zip(rows["source"], rows["tile"]))))
    (out / TILES_FILE).write_text(json.dumps(origins, indent=0), "utf-8")
    return summary
