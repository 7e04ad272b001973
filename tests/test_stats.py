import json

from datasets import load_dataset
from PIL import Image

from samrs_dataset import make_dataset
from samrs_hf.stats import compute_stats, save_stats


def test_stats_count_pixels_instances_and_mask_sizes(tmp_path):
    make_dataset(tmp_path / "samrs", "sota", rows=6)
    ds = load_dataset(str(tmp_path / "samrs"), "sota", split="train")
    stats = compute_stats(ds)
    assert stats.images == 6 and stats.instances[1] == 6 and stats.instances[3] == 6 and sum(stats.instances) == 12
    small = [64 + 8 * i for i in range(6)]  # the small squares (painted over the big ones)
    assert stats.pixels[3] == sum(small)
    assert stats.pixels[1] == sum(32 * 32 - len(range(30, min(38 + i, 40))) * 8 for i in range(6))
    assert stats.pixels[1] + stats.pixels[3] + stats.unlabeled_pixels == 6 * 64 * 64
    assert stats.size_counts == [sum(a < 100 for a in small), sum(a >= 100 for a in small), 6, 0, 0]  # big: 1024 px


def test_stats_figures_are_labelled_pngs(tmp_path):
    make_dataset(tmp_path / "samrs", "sota", rows=2)
    stats = compute_stats(load_dataset(str(tmp_path / "samrs"), "sota", split="train"))
    paths = save_stats(stats, tmp_path / "figs", "sota")
    names = ["sota_stats.json", "sota_pixels.png", "sota_instances.png", "sota_mask_sizes.png"]
    assert [p.name for p in paths] == names
    for png in paths[1:]:
        with Image.open(png) as image:
            assert image.format == "PNG" and image.width > 300
    record = json.loads(paths[0].read_text())
    assert record["size_labels"][0] == "<100" and record["class_names"][0] == "large-vehicle"
