import json

from datasets import load_dataset
from PIL import Image
from samrs_folders import write_samrs

from samrs_hf.dataset.stats import compute_stats, save_stats, stats_figures


def test_stats_count_pixels_instances_and_mask_sizes(tmp_path):
    write_samrs(tmp_path / "samrs", {"sota": {"train": 6}})
    ds = load_dataset(str(tmp_path / "samrs"), "sota", split="train")
    stats = compute_stats(ds)
    assert stats.images == 6 and stats.instances[1] == 6 and stats.instances[3] == 6 and sum(stats.instances) == 12
    small = [64 + 8 * i for i in range(6)]  # the small squares (painted over the big ones)
    assert stats.pixels[3] == sum(small)
    assert stats.pixels[1] == sum(32 * 32 - len(range(30, min(38 + i, 40))) * 8 for i in range(6))
    assert stats.pixels[1] + stats.pixels[3] + stats.unlabeled_pixels == 6 * 64 * 64
    assert stats.size_counts == [sum(a < 100 for a in small), sum(a >= 100 for a in small), 6, 0, 0]  # big: 1024 px


def test_figures_show_the_counts_per_class_and_bin(tmp_path):
    write_samrs(tmp_path / "samrs", {"sota": {"train": 3}})
    stats = compute_stats(load_dataset(str(tmp_path / "samrs"), "sota", split="train"))
    figures = stats_figures(stats, "sota")
    for key, values in (("pixels", stats.pixels), ("instances", stats.instances)):
        (ax,) = figures[key].axes
        assert [bar.get_width() for bar in ax.patches] == values and ax.get_xscale() == "log"
        assert [label.get_text() for label in ax.get_yticklabels()] == stats.class_names
    (ax,) = figures["mask_sizes"].axes
    assert [bar.get_height() for bar in ax.patches] == stats.size_counts == [3, 0, 3, 0, 0]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["<100", "100-1k", "1k-10k", "10k-100k", ">=100k"]

    paths = save_stats(stats, tmp_path / "figs", "sota")
    assert [p.name for p in paths] == [
        "sota_stats.json",
        "sota_pixels.png",
        "sota_instances.png",
        "sota_mask_sizes.png",
    ]
    for png in paths[1:]:
        with Image.open(png) as image:
            assert image.format == "PNG"
    record = json.loads(paths[0].read_text())
    assert record["pixels"] == stats.pixels and record["class_names"][0] == "large-vehicle"
