"""What a new user of ``samrs build`` hits first: nothing of theirs is lost, every mistake is one line."""

from __future__ import annotations

import io
import os
import shutil

import pytest
from datasets import load_dataset
from PIL import Image
from raw_datasets import make_dior_root

from samrs_hf.cli import main
from samrs_hf.dataset.build import BuildOptions, build_subset

pytestmark = pytest.mark.slow


def _dior(tmp_path, fixtures_dir, truncated: int = 0):
    """A flat DIOR root: the real 00001 and ``truncated`` copies of it cut to half their bytes."""
    root = make_dior_root(tmp_path / "raw", fixtures_dir)
    jpeg = (fixtures_dir / "dior" / "JPEGImages" / "00001.jpg").read_bytes()
    xml = fixtures_dir / "dior" / "Annotations" / "Horizontal Bounding Boxes" / "00001.xml"
    for number in range(2, 2 + truncated):
        (root / "JPEGImages-trainval" / f"{number:05d}.jpg").write_bytes(jpeg[: len(jpeg) // 2])
        shutil.copy(xml, root / "Annotations" / "Horizontal Bounding Boxes" / f"{number:05d}.xml")
    return root


def _build(root, out, model, *extra) -> list[str]:
    return ["build", "sior", "--root", str(root), "--out", str(out), "--model", str(model), "--split", "all", *extra]


def _one_error_line(capsys) -> str:
    """The one error line on stderr (progress bars aside), with no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_someone_elses_readme_is_never_replaced(tmp_path, fixtures_dir, tiny_sam_dir, capsys):
    root, out = _dior(tmp_path, fixtures_dir), tmp_path / "mine"
    out.mkdir()
    (out / "README.md").write_text("---\nlicense: mit\n---\n# My own dataset\n")
    assert main(_build(root, out, tiny_sam_dir)) == 1
    assert "is not a SAMRS dataset folder" in _one_error_line(capsys)
    assert main(_build(root, out, tiny_sam_dir, "--overwrite")) == 1
    assert (out / "README.md").read_text().endswith("# My own dataset\n")
    assert sorted(p.name for p in out.iterdir()) == ["README.md"]


def test_skip_bad_skips_a_truncated_jpeg_and_names_it(tmp_path, fixtures_dir, tiny_sam_dir, capsys):
    root, out = _dior(tmp_path, fixtures_dir, truncated=1), tmp_path / "samrs"
    assert main(_build(root, out, tiny_sam_dir)) == 1
    assert "00002.jpg" in (line := _one_error_line(capsys)) and "pass --skip-bad to skip it" in line
    assert main(_build(root, out, tiny_sam_dir, "--skip-bad")) == 0
    printed = capsys.readouterr().out
    assert "skipped (--skip-bad), unreadable_image: 1" in printed and "00002.jpg" in printed
    assert load_dataset(str(out), "sior", split="train")["image_id"] == ["00001"]


def test_every_image_skipped_is_the_same_error_in_a_new_or_an_existing_folder(
    tmp_path, fixtures_dir, tiny_sam_dir, capsys
):
    root = _dior(tmp_path, fixtures_dir, truncated=2)
    (root / "JPEGImages-trainval" / "00001.jpg").unlink()
    (root / "Annotations" / "Horizontal Bounding Boxes" / "00001.xml").unlink()
    fresh, existing = tmp_path / "fresh", tmp_path / "existing"
    existing.mkdir()
    for out in (fresh, existing):
        assert main(_build(root, out, tiny_sam_dir, "--skip-bad")) == 1
        line = _one_error_line(capsys)
        assert "no tile of sior was written" in line and "2 files skipped" in line


def test_a_model_prompt_or_dtype_spelled_another_way_resumes(tmp_path, fixtures_dir, tiny_sam_dir, capsys, monkeypatch):
    """Settings are recorded in one spelling; the model is checked once per build (the labeler loads it unchecked)."""
    import samrs_hf.dataset.build_options as build_options

    checks = []
    monkeypatch.setattr(build_options, "check_checkpoint", lambda name, *a: checks.append(name) or str(name))
    monkeypatch.setattr("samrs_hf.labeling.labeler.check_checkpoint", None)  # a second check would fail
    root, out = _dior(tmp_path, fixtures_dir), tmp_path / "samrs"
    assert main(_build(root, out, tiny_sam_dir)) == 0
    assert checks == [str(tiny_sam_dir)]
    monkeypatch.chdir(tiny_sam_dir.parent)
    assert main(_build(root, out, os.path.join(".", tiny_sam_dir.name), "--prompt", "HBOX", "--dtype", "fp32")) == 0
    assert "tiles already in committed shards (resumed): 1" in capsys.readouterr().out
    card = (out / "README.md").read_text()  # says what a flat --split all build read, not the paper's splits
    assert "Built from every image of a raw folder without splits (`--split all`), stored as the `train`" in card
    assert "source splits" not in card


@pytest.mark.parametrize(
    ("model", "message"),
    [("missing-folder/", "--model missing-folder: no such folder"), ("org/not-cached", "--model org/not-cached")],
)
def test_a_model_that_cannot_load_is_one_line_at_once(tmp_path, fixtures_dir, monkeypatch, capsys, model, message):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    assert main(_build(_dior(tmp_path, fixtures_dir), tmp_path / "samrs", model)) == 1
    assert message in _one_error_line(capsys)
    assert not (tmp_path / "samrs").exists()


def test_ctrl_c_says_how_to_resume_and_a_bug_shows_its_traceback(tmp_path, fixtures_dir, tiny_sam_dir, monkeypatch):
    import samrs_hf.dataset.build as build

    root, out = _dior(tmp_path, fixtures_dir), tmp_path / "samrs"

    def interrupted(options):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "build_subset", interrupted)
    printed = []
    monkeypatch.setattr("samrs_hf.cli.tqdm.write", lambda text, file=None: printed.append(text))
    assert main(_build(root, out, tiny_sam_dir)) == 130
    assert printed == ["samrs build: interrupted: rerun the same command to resume (committed tiles are kept)"]

    def bug(options):
        raise RuntimeError("an internal slip")

    monkeypatch.setattr(build, "build_subset", bug)
    assert main(_build(root, out, tiny_sam_dir)) == 3  # 2 is argparse's, for a command line it cannot parse
    assert "unexpected error (exit status 3): this is a bug in samrs-hf" in printed[-1]


def _add_image(root, fixtures_dir, number: int, data: bytes) -> None:
    """Image ``{number:05d}.jpg`` holding ``data``, annotated as 00001 is (800x800, one golf field)."""
    (root / "JPEGImages-trainval" / f"{number:05d}.jpg").write_bytes(data)
    xml = fixtures_dir / "dior" / "Annotations" / "Horizontal Bounding Boxes" / "00001.xml"
    shutil.copy(xml, root / "Annotations" / "Horizontal Bounding Boxes" / f"{number:05d}.xml")


def test_every_image_header_is_checked_before_the_model_loads(tmp_path, fixtures_dir, tiny_sam_dir, monkeypatch):
    def not_now(*args):
        raise AssertionError("the model loaded before every header was checked")

    monkeypatch.setattr("samrs_hf.dataset.build.load_backend", not_now)
    root = _dior(tmp_path, fixtures_dir)
    _add_image(root, fixtures_dir, 2, b"not an image")
    options = BuildOptions("sior", root, tmp_path / "samrs", str(tiny_sam_dir), splits=("all",))
    with pytest.raises(ValueError, match=r"00002\.jpg: cannot read image: .*; pass --skip-bad to skip it and go on$"):
        build_subset(options)
    small = io.BytesIO()
    Image.new("RGB", (400, 300)).save(small, "JPEG")
    _add_image(root, fixtures_dir, 2, small.getvalue())
    with pytest.raises(ValueError, match=r"00002\.jpg: image is 400x300 but its annotation says 800x800; pass --skip"):
        build_subset(options)


def test_the_summary_names_skipped_files_before_dropped_objects(tmp_path, fixtures_dir, tiny_sam_dir, capsys):
    root = _dior(tmp_path, fixtures_dir, truncated=1)  # 00002.jpg: its header is whole, its pixels are not
    _add_image(root, fixtures_dir, 3, b"not an image")
    annotation = root / "Annotations" / "Horizontal Bounding Boxes" / "00001.xml"
    outside = "<object><name>ship</name><bndbox><xmin>900</xmin><ymin>9</ymin><xmax>950</xmax><ymax>40</ymax></bndbox>"
    xml = annotation.read_text().replace("</annotation>", f"{outside}</object></annotation>")
    annotation.unlink()  # a link to the shared fixture
    annotation.write_text(xml)
    out = tmp_path / "samrs"
    assert main(_build(root, out, tiny_sam_dir)) == 1  # 00003 stops the build while planning
    assert "00003.jpg" in _one_error_line(capsys) and not (out / "sior" / ".build.json").exists()
    assert main(_build(root, out, tiny_sam_dir, "--skip-bad")) == 0
    lines = capsys.readouterr().out.splitlines()
    skipped = lines.index("skipped (--skip-bad), unreadable_image: 2")
    assert "00003.jpg" in lines[skipped + 1] and "00002.jpg" in lines[skipped + 2]
    assert lines[skipped + 3 :] == [
        "dropped objects, outside_image: 1",
        f"  {annotation}: object 2 (ship) lies wholly outside the 800x800 image",
    ]
    image = root / "JPEGImages-trainval" / "00001.jpg"
    image.unlink()
    image.write_bytes(b"")
    assert main(_build(root, tmp_path / "none", tiny_sam_dir, "--skip-bad")) == 1
    line = _one_error_line(capsys)
    assert "(3 images read, 1 tiles with objects, 3 files skipped with --skip-bad: unreadable_image 3;" in line
