"""How long reading a release pkl takes with samrs-hf's safe unpickler against plain ``pickle.loads``.

For SOTA- and FAST-style instance lists of ``--instances`` objects on a 1024x1024 tile (random boxes,
their masks as the release's RLEs, its numpy boxes and scalars), pickled at protocols 0-5: the best of
``--repeats`` runs of ``pickle.loads`` (C, unsafe), of ``SafeUnpickler.load`` and of the record checks
(``release_objects``), in ms.

    .venv/bin/python benchmarks/release_pickles.py --json benchmarks/results_release_pickles_cpu.json
"""

from __future__ import annotations

import argparse
import json
import pickle
import pickletools
import time
from pathlib import Path

import numpy as np
import torch
from common import machine
from pycocotools import mask as mask_utils

from samrs_hf.dataset.release import SafeUnpickler, release_objects
from samrs_hf.dataset.release.instances import max_counts_chars
from samrs_hf.dataset.subsets import SUBSETS
from samrs_hf.geometry import polygon_to_hbox, rasterize_polygon, rbox_to_polygon

SIZE = 1024


def instances(subset: str, count: int, seed: int = 0) -> list[dict]:
    """``count`` release instance dicts of ``subset`` (SOTA: ``bbox``; FAST: ``rbox`` corners and ``rhbox``)."""
    rng = np.random.default_rng(seed)
    classes = SUBSETS[subset].classes
    items = []
    for _ in range(count):
        cx, cy = rng.uniform(20, SIZE - 20, 2)
        w, h = rng.uniform(4, 40, 2)
        corners = rbox_to_polygon((cx, cy, w, h, rng.uniform(-1.5, 1.5) if subset == "fast" else 0.0))
        mask = rasterize_polygon(corners, SIZE, SIZE)
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        label = int(rng.integers(len(classes)))
        item = {"mask": {"size": [SIZE, SIZE], "counts": rle["counts"].decode("ascii")}}
        box = polygon_to_hbox(corners)
        item |= {"rbox": corners, "rhbox": box} if subset == "fast" else {"bbox": box}
        items.append(item | {"category": classes[label], "size": np.sum(mask), "label": label})
    return items


def best_ms(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    limit, rows = max_counts_chars(SIZE, SIZE), []
    for subset in ("sota", "fast"):
        items = instances(subset, args.instances)
        for protocol in range(6):
            data = pickle.dumps(items, protocol=protocol)
            loaded = SafeUnpickler(data, limit).load()
            rows.append(
                {
                    "subset": subset,
                    "protocol": protocol,
                    "bytes": len(data),
                    "opcodes_per_instance": sum(1 for _ in pickletools.genops(data)) / len(items),
                    "pickle_loads_ms": best_ms(lambda d=data: pickle.loads(d), args.repeats),
                    "safe_load_ms": best_ms(lambda d=data: SafeUnpickler(d, limit).load(), args.repeats),
                    "checks_ms": best_ms(
                        lambda v=loaded, s=subset: release_objects(v, Path("x.pkl"), SUBSETS[s], SIZE, SIZE),
                        args.repeats,
                    ),
                }
            )
    result = {"machine": machine(torch.device("cpu")), "settings": vars(args) | {"tile": SIZE}, "rows": rows}
    print("| subset | protocol | KiB | pickle.loads ms | safe load ms | checks ms |\n|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['subset']} | {r['protocol']} | {r['bytes'] / 1024:.0f} | {r['pickle_loads_ms']:.1f} | "
            f"{r['safe_load_ms']:.1f} | {r['checks_ms']:.1f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str) + "\n")
    return result


if __name__ == "__main__":
    main()
