"""``samrs build`` checks every option before it reads a file or loads a model, and records them in one spelling."""

from __future__ import annotations

import pytest

from samrs_hf.cli import main
from samrs_hf.dataset.build_options import BuildOptions
from samrs_hf.labeling.labeler import Decoding


@pytest.fixture
def nothing_read(monkeypatch):
    """Fail the test if a source is opened or a model loaded."""

    def refused(*args, **kwargs):
        raise AssertionError("read or loaded before the options were checked")

    monkeypatch.setattr("samrs_hf.dataset.build.get_source", refused)
    monkeypatch.setattr("samrs_hf.dataset.build.load_backend", refused)


@pytest.mark.parametrize(
    ("subset", "flags", "message"),
    [
        ("sota", ["--prompt", "hboxx"], "--prompt: unknown prompt kind(s) ['hboxx'] in 'hboxx'; valid kinds: cp,"),
        ("sior", ["--prompt", "cp+RHBOX"], "--prompt cp+rhbox: needs rotated boxes, and the sior subset's source"),
        ("sota", ["--limit", "0"], "--limit 0: give 1 or more"),
        ("sota", ["--image-batch-size", "0"], "--image-batch-size 0: give 1 or more"),
        ("sota", ["--prompt-batch-size", "-2"], "--prompt-batch-size -2: give 1 or more"),
        ("sota", ["--rows-per-shard", "0"], "--rows-per-shard 0: give 1 or more"),
        ("sota", ["--dtype", "fp8"], "--dtype fp8: unknown; use one of float32, fp32,"),
        ("sota", ["--refine", "-1"], "--refine -1: give 0 or more decoder passes"),
        ("sota", ["--clip-rbox", "-3"], "--clip-rbox -3: give a margin of 0 pixels or more"),
        ("sota", ["--device", "gpu0"], "--device gpu0: not a torch device"),
    ],
)
def test_a_mistaken_option_is_one_line_before_anything_is_read(tmp_path, nothing_read, capsys, subset, flags, message):
    """The model is a folder that does not exist: each mistake is found before the model is even looked at."""
    out = tmp_path / "samrs"
    argv = ["build", subset, "--root", str(tmp_path), "--out", str(out), "--model", str(tmp_path / "no-model")]
    assert main([*argv, *flags]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"samrs build: error: {message}") and err.count("\n") == 1, err
    assert not out.exists()


def test_the_root_and_the_model_are_checked_before_anything_is_read(tmp_path, nothing_read, capsys):
    out = tmp_path / "samrs"
    assert main(["build", "coco", "--root", str(tmp_path), "--out", str(out)]) == 1
    assert f"--root {tmp_path}: no such file (the coco instance .json)" in capsys.readouterr().err
    assert main(["build", "sota", "--root", str(tmp_path), "--out", str(out), "--model", "missing/"]) == 1
    assert "--model missing: no such folder" in capsys.readouterr().err
    assert not out.exists()


def test_checked_options_are_canonical(tmp_path, tiny_sam_dir):
    options = BuildOptions("fast", tmp_path, tmp_path / "out", str(tiny_sam_dir), prompt="RHBOX+cp", dtype="bf16")
    checked = options.checked()
    assert (checked.prompt, checked.dtype, checked.decoding) == ("cp+rhbox", "bfloat16", Decoding())
    assert BuildOptions("fast", tmp_path, tmp_path / "out", str(tiny_sam_dir)).checked().prompt == "rhbox"
    assert BuildOptions("sior", tmp_path, tmp_path, "x", decoding="clip2@best").checked(check_model=False).decoding == (
        Decoding(best=True, clip_rbox=2.0)
    )
