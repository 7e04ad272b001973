"""What the zlib level of a tile image's PNG costs: the fixtures' aerial images encoded at level 1 (what
``samrs build`` writes, ``samrs_hf.dataset.schema.IMAGE_COMPRESS_LEVEL``) and at PIL's default level 6.

For each real image of the fixtures (DOTA, DIOR, HRSC2016, Potsdam; RGB, as a build decodes it): the best of
``--repeats`` encodings at each level (``samrs_hf.dataset.schema.image_bytes``), in ms, and the bytes.

    cd benchmarks && ../.venv/bin/python png_levels.py --json results_png_levels_cpu.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from common import machine, report

from samrs_hf.dataset.schema import IMAGE_COMPRESS_LEVEL, image_bytes
from samrs_hf.records import open_rgb

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
IMAGES = ("dota/images/P1888.png", "dior/JPEGImages/00001.jpg", "hrsc2016/AllImages/100000002.bmp",
          "potsdam/img_dir/2_10_0_0_512_512.png")  # fmt: skip
LEVELS = (IMAGE_COMPRESS_LEVEL, 6)


def encode_ms(image, level: int, repeats: int) -> tuple[float, int]:
    """The fastest of ``repeats`` PNG encodings of ``image`` at zlib ``level``, in ms, and its bytes."""
    times, size = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        size = len(image_bytes(image, compress_level=level)["bytes"])
        times.append(1000 * (time.perf_counter() - start))
    return min(times), size


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=FIXTURES)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    for name in IMAGES:
        image = open_rgb(args.fixtures / name)
        row = {"image": name, "megapixels": image.width * image.height / 1e6}
        for level in LEVELS:
            row[f"level_{level}_ms"], row[f"level_{level}_bytes"] = encode_ms(image, level, args.repeats)
        row["time_ratio"] = row["level_6_ms"] / row[f"level_{IMAGE_COMPRESS_LEVEL}_ms"]
        row["bytes_ratio"] = row[f"level_{IMAGE_COMPRESS_LEVEL}_bytes"] / row["level_6_bytes"]
        rows.append(row)
    settings = {"levels": list(LEVELS), "repeats": args.repeats}
    return report({"machine": machine(torch.device("cpu")), "settings": settings, "rows": rows}, args.json)


if __name__ == "__main__":
    main()
