"""The notebook-style walkthrough runs end to end with a local (tiny) SAM."""

import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_walkthrough_runs(tmp_path, tiny_sam_dir):
    out = tmp_path / "walk"
    subprocess.run(
        [sys.executable, str(EXAMPLES / "walkthrough.py"), "--model", str(tiny_sam_dir), "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    coco = json.loads((out / "sota_train_coco.json").read_text())
    assert {image["file_name"] for image in coco["images"]} == {"P0000__1024__0___0.png", "P0001__1024__0___0.png"}
    assert coco["annotations"] and all(a["segmentation"]["counts"] for a in coco["annotations"])
    for name in ("sota_stats.json", "sota_pixels.png", "sota_mask_sizes.png", "sota_overlays.png"):
        assert (out / "figures" / name).stat().st_size > 0
