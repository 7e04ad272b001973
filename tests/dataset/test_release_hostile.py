"""Hostile release files: crafted pkls and files that are links, devices or FIFOs.

Each attack is built here. In-process tests check the unpickler and the record checks one case at a time
(each refusal is one line naming the file, and the instance where there is one); the import runs
through ``samrs import-release`` in child processes with a memory cap and a time limit
(:mod:`isolated`): exit 0 or 1, no signal, no hang, no traceback, nothing executed.
"""

from __future__ import annotations

import base64
import os
import pickle
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from datasets import load_dataset
from isolated import assert_clean_exit, run_samrs
from PIL import Image
from pycocotools import mask as mask_utils
from release_folders import HEIGHT, SEGS, SOTA_TILES, WIDTH, Shape, instance, rle, write_release

from samrs_hf.cli import main
from samrs_hf.dataset.release import (
    ImportOptions,
    ReleaseFileError,
    find_layout,
    import_release,
    load_pickle,
    release_objects,
)
from samrs_hf.dataset.release.format import MAX_INSTANCES, MAX_PKL_BYTES
from samrs_hf.dataset.release.instances import rle_area
from samrs_hf.dataset.subsets import SUBSETS

MEMORY_MB = 3072
"""Address space of a child import: room for what it maps before reading a tile (torch, datasets, its
reader threads' stacks and malloc arenas), far less than any memory attack here would take."""

_reconstruct, _scalar = np._core.multiarray._reconstruct, np._core.multiarray.scalar
_frombuffer = np._core.numeric._frombuffer


class Crafted:
    """Pickles as ``reduce`` says: ``(callable, args[, state])``, named by the callable's module and name."""

    def __init__(self, *reduce):
        self.reduce = reduce

    def __reduce__(self):
        return self.reduce


def dtype(name: str, state: tuple) -> Crafted:
    """``numpy.dtype(name)`` with the pickled ``state`` (a plain one's: ``(3, '<', None, None, None, -1, -1, 0)``)."""
    return Crafted(np.dtype, (name, False, True), state)


def array(dtype_, shape: tuple, data: bytes) -> Crafted:
    """``_reconstruct`` + the state ``ndarray.__setstate__`` would get."""
    return Crafted(_reconstruct, (np.ndarray, (0,), b"b"), (1, shape, dtype_, False, data))


OBJECT_UNFLAGGED = dtype("O8", (3, "|", None, None, None, -1, -1, 0))
"""An object dtype whose state clears the object flag: numpy would read pointers from the file."""
POINTERS = dtype("V8", (3, "|", None, ("p",), {"p": (OBJECT_UNFLAGGED, 0)}, 8, 1, 0))
ADDRESS = struct.pack("<Q", 0x4141414141414141)


class Shell:
    """``os.system('touch MARKER')`` when unpickled naively."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Eval(Shell):
    def __reduce__(self):
        return (eval, (f"open({self.marker!r}, 'w')",))


class Popen(Shell):
    def __reduce__(self):
        return (subprocess.Popen, (["touch", self.marker],))


class Opener(Shell):
    def __reduce__(self):
        return (open, (self.marker, "w"))


def good_item() -> dict:
    """A valid SOTA instance of a ``HEIGHT`` x ``WIDTH`` tile."""
    return instance("sota", Shape(9, box=(1, 2, 9, 7)))


def with_field(**fields) -> bytes:
    return pickle.dumps([good_item() | fields], protocol=4)


def dag(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [value, value]
    return value


def hostile_pkls(marker, depth: int = 10**6) -> dict[str, tuple[bytes, str]]:
    """``name -> (pkl bytes, reason)`` of every attack on the unpickler and the record checks; the nesting
    attacks are ``depth`` deep."""
    good = pickle.dumps([good_item()], protocol=4)
    huge_runs = rle(np.ones((HEIGHT, WIDTH), dtype=bool))["counts"][:-1] + "o" * 8 + "1"  # runs past the mask's end
    return {
        "pointer_array": (with_field(bbox=array(POINTERS, (1,), ADDRESS)), "unsafe_pkl"),
        "pointer_scalar": (with_field(size=Crafted(_scalar, (POINTERS, ADDRESS))), "unsafe_pkl"),
        "object_array": (with_field(bbox=array(OBJECT_UNFLAGGED, (1,), ADDRESS)), "unsafe_pkl"),
        "flagged_plain_dtype": (
            with_field(bbox=array(dtype("f8", (3, "<", None, None, None, -1, -1, 63)), (4,), bytes(32))),
            "unsafe_pkl",
        ),
        "zero_stride_size": (
            with_field(mask={"size": array(np.dtype("i8"), (10**12,), bytes(8)), "counts": "0"}),
            "bad_pkl",
        ),
        "zero_stride_bbox": (
            with_field(bbox=Crafted(_frombuffer, (bytearray(8), np.dtype("f8"), (10**6, 10**6), "C"))),
            "bad_pkl",
        ),
        "bytearray_of_a_number": (with_field(bbox=Crafted(bytearray, (3 << 30,))), "unsafe_pkl"),
        "bytes_of_a_number": (with_field(bbox=Crafted(bytes, (3 << 30,))), "unsafe_pkl"),
        "bytearray8_header": (b"\x80\x05\x96" + struct.pack("<Q", 3 << 30) + b"x.", "bad_pkl"),
        "nested_lists": (b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b".", "bad_pkl"),
        "nested_tuples": (b"\x80\x02N" + b"\x85" * depth + b".", "bad_pkl"),
        "nested_marks": (b"\x80\x02" + b"(" * depth + b".", "bad_pkl"),
        "memo_dag": (pickle.dumps([{"mask": dag(64)}], protocol=4), "bad_pkl"),
        "huge_counts": (with_field(mask={"size": [HEIGHT, WIDTH], "counts": "0" * 10**7}), "bad_pkl"),
        "runs_past_the_mask": (with_field(mask={"size": [HEIGHT, WIDTH], "counts": huge_runs}), "bad_pkl"),
        "os_system": (pickle.dumps([Shell(marker)], protocol=2), "unsafe_pkl"),
        "eval": (pickle.dumps([Eval(marker)], protocol=0), "unsafe_pkl"),
        "subprocess": (pickle.dumps([Popen(marker)], protocol=5), "unsafe_pkl"),
        "open": (pickle.dumps([Opener(marker)], protocol=4), "unsafe_pkl"),
        "newobj": (b"\x80\x02cnumpy\nndarray\n)\x81.", "unsafe_pkl"),
        "persistent_id": (b"\x80\x02Pid\n.", "unsafe_pkl"),
        "out_of_band": (pickle.dumps(np.zeros(3), protocol=5, buffer_callback=lambda _: False), "unsafe_pkl"),
        "truncated": (good[: len(good) // 2], "bad_pkl"),
        "wrong_protocol": (b"\x80\x09" + good[2:], "bad_pkl"),
        "empty": (b"", "bad_pkl"),
        "too_many_instances": (pickle.dumps([good_item()] * (MAX_INSTANCES + 1), protocol=4), "bad_pkl"),
    }


# ------------------------------------------------------------------------------------------ in process


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    marker = folder / "marker"
    paths = {}
    for name, (data, reason) in hostile_pkls(marker, depth=10**5).items():  # 10**6 deep: in the child process
        (folder / f"{name}.pkl").write_bytes(data)
        paths[name] = (folder / f"{name}.pkl", reason)
    return marker, paths


@pytest.mark.parametrize("name", sorted(hostile_pkls("marker")))
def test_each_attack_is_refused_in_one_line_naming_the_file(corpus, name):
    marker, paths = corpus
    path, reason = paths[name]
    with pytest.raises(ReleaseFileError) as refused:
        release_objects(load_pickle(path, 2 * HEIGHT * WIDTH + 16), path, SUBSETS["sota"], HEIGHT, WIDTH)
    message = str(refused.value)
    assert refused.value.reason == reason, message
    assert message.startswith(f"{path}: ") or message.startswith(f"{path}, instance 0: "), message
    assert "\n" not in message and len(message) < 400, message
    assert not marker.exists()


def test_the_attacks_are_live_under_a_naive_load(tmp_path):
    """The refused payloads run, and numpy turns file bytes into pointers, under ``pickle.loads``."""
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(Opener(marker))).close()
    assert marker.exists()
    naive = pickle.loads(pickle.dumps(array(POINTERS, (1,), bytes(8))))
    assert naive.dtype.fields["p"][0] == np.dtype("O") and not naive.dtype.hasobject  # pointers numpy never owns


def test_dag_and_depth_bounds_count_every_reference(tmp_path):
    path = tmp_path / "dag.pkl"
    path.write_bytes(pickle.dumps([[["x"] * 1000] * 1000], protocol=4))  # 3 lists, a million references
    with pytest.raises(ReleaseFileError, match=r"reaches more than \d+ values \(repeated or cyclic references\)"):
        load_pickle(path)
    cycle: list = []
    cycle.append(cycle)
    path.write_bytes(pickle.dumps(cycle))
    with pytest.raises(ReleaseFileError, match="nested more than 16 deep"):  # a cycle is endlessly deep
        load_pickle(path)
    path.write_bytes(pickle.dumps([[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]))
    with pytest.raises(ReleaseFileError, match=r"nested more than 16 deep"):
        load_pickle(path)


def test_a_pkl_over_the_size_bound_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.pkl"
    with open(path, "wb") as file:
        file.truncate(MAX_PKL_BYTES + 1)  # sparse: nothing is written
    with pytest.raises(ReleaseFileError, match=rf"big\.pkl: {MAX_PKL_BYTES + 1} bytes, more than the"):
        load_pickle(path)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"bbox": np.array([1.0, np.nan, 3.0, 4.0])}, r"'bbox' is an array \[1.0, nan, 3.0, 4.0\] .*not 4 finite"),
        ({"bbox": [1, 2, 3, True]}, r"'bbox' is a list of 4 items, not 4 finite numbers"),
        ({"size": np.float64(12.0)}, r"'size' is np.float64\(12.0\), not an integer"),
        ({"label": 10**5000}, r"label an integer of 16610 bits disagrees with category 'small-vehicle'"),
        ({"category": "x" * 10**5}, r"category 'xxxx.*\.\.\. \(100000 long\) is neither a class name"),
        ({"mask": {"size": [HEIGHT, WIDTH], "counts": "é"}}, r"'ascii' codec can't encode"),
        ({"mask": {"size": np.array([HEIGHT, WIDTH, 1]), "counts": "0"}}, r"mask size an array .*, not \[h, w\]"),
        ({"mask": {"size": [HEIGHT, WIDTH], "counts": "PP"}}, r"RLE counts end inside a run"),
        (
            {"mask": {"size": [HEIGHT, WIDTH], "counts": "~"}},
            r"RLE counts that are empty or hold characters outside COCO's alphabet",
        ),
    ],
)
def test_record_fields_are_checked_with_short_messages(tmp_path, fields, message):
    path = tmp_path / "bad.pkl"
    path.write_bytes(with_field(**fields))
    with pytest.raises(ReleaseFileError, match=rf"bad\.pkl, instance 0: {message}") as refused:
        release_objects(load_pickle(path), path, SUBSETS["sota"], HEIGHT, WIDTH)
    assert len(str(refused.value)) < 400


def test_rle_area_agrees_with_pycocotools_and_refuses_what_it_would_misread():
    rng = np.random.default_rng(0)
    for trial in range(60):
        height, width = (int(v) for v in rng.integers(1, 40, 2))
        mask = rng.random((height, width)) < rng.random() if trial % 2 else np.indices((height, width)).sum(0) % 2
        counts = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"]
        assert rle_area(counts, height, width) == mask.sum()
        assert len(counts) <= 2 * height * width + 16
    whole = mask_utils.encode(np.asfortranarray(np.ones((6, 8), dtype=np.uint8)))
    assert mask_utils.area({"size": [6, 8], "counts": whole["counts"] + b"o10"}) == 96  # past its 48 pixels
    with pytest.raises(ValueError, match=r"RLE runs cover \d+ pixels, not the 6x8 of its size"):
        rle_area(whole["counts"] + b"o10", 6, 8)


# ------------------------------------------------------------------------------------------ plain pickles


NUMPY_1 = {
    2: "gAJdcQB9cQEoWAQAAABtYXNrcQJ9cQMoWAQAAABzaXplcQRdcQUoSwZLCGVYBgAAAGNvdW50c3EGWAkAAAA9MzMwMDAwMDtxB3VY"
    "BAAAAGJib3hxCGNudW1weS5jb3JlLm11bHRpYXJyYXkKX3JlY29uc3RydWN0CnEJY251bXB5Cm5kYXJyYXkKcQpLAIVxC2NfY29k"
    "ZWNzCmVuY29kZQpxDFgBAAAAYnENWAYAAABsYXRpbjFxDoZxD1JxEIdxEVJxEihLAUsEhXETY251bXB5CmR0eXBlCnEUWAIAAABm"
    "OHEViYiHcRZScRcoSwNYAQAAADxxGE5OTkr/////Sv////9LAHRxGWKJaAxYIQAAAAAAAAAAAABAAAAAAAAAw7A/AAAAAAAAGEAA"
    "AAAAAAAQQHEaaA6GcRtScRx0cR1iWAgAAABjYXRlZ29yeXEeWAQAAABzaGlwcR9oBGNudW1weS5jb3JlLm11bHRpYXJyYXkKc2Nh"
    "bGFyCnEgaBRYAgAAAGk4cSGJiIdxIlJxIyhLA2gYTk5OSv////9K/////0sAdHEkYmgMWAgAAAAMAAAAAAAAAHElaA6GcSZScSeG"
    "cShScSlYBQAAAGxhYmVscSpLBXVhLg==",
    4: "gASVQwEAAAAAAABdlH2UKIwEbWFza5R9lCiMBHNpemWUXZQoSwZLCGWMBmNvdW50c5SMCT0zMzAwMDAwO5R1jARiYm94lIwVbnVt"
    "cHkuY29yZS5tdWx0aWFycmF5lIwMX3JlY29uc3RydWN0lJOUjAVudW1weZSMB25kYXJyYXmUk5RLAIWUQwFilIeUUpQoSwFLBIWU"
    "aAyMBWR0eXBllJOUjAJmOJSJiIeUUpQoSwOMATyUTk5OSv////9K/////0sAdJRiiUMgAAAAAAAAAEAAAAAAAADwPwAAAAAAABhA"
    "AAAAAAAAEECUdJRijAhjYXRlZ29yeZSMBHNoaXCUaARoCYwGc2NhbGFylJOUaBWMAmk4lImIh5RSlChLA2gZTk5OSv////9K////"
    "/0sAdJRiQwgMAAAAAAAAAJSGlFKUjAVsYWJlbJRLBXVhLg==",
    5: "gAWVRAEAAAAAAABdlH2UKIwEbWFza5R9lCiMBHNpemWUXZQoSwZLCGWMBmNvdW50c5SMCT0zMzAwMDAwO5R1jARiYm94lIwSbnVt"
    "cHkuY29yZS5udW1lcmljlIwLX2Zyb21idWZmZXKUk5QoliAAAAAAAAAAAAAAAAAAAEAAAAAAAADwPwAAAAAAABhAAAAAAAAAEECU"
    "jAVudW1weZSMBWR0eXBllJOUjAJmOJSJiIeUUpQoSwOMATyUTk5OSv////9K/////0sAdJRiSwSFlIwBQ5R0lFKUjAhjYXRlZ29y"
    "eZSMBHNoaXCUaASMFW51bXB5LmNvcmUubXVsdGlhcnJheZSMBnNjYWxhcpSTlGgPjAJpOJSJiIeUUpQoSwNoE05OTkr/////Sv//"
    "//9LAHSUYkMIDAAAAAAAAACUhpRSlIwFbGFiZWyUSwV1YS4=",
}
"""Pickles written by numpy 1.26.4 (Python 3.11, ``pickle.dumps(info, protocol=p)``) of the release instance list
``[{'mask': {'size': [6, 8], 'counts': '=3300000;'}, 'bbox': np.array([2., 1., 6., 4.]), 'category': 'ship',
'size': np.sum(mask), 'label': 5}]`` for a 3x4 block at (2, 1) of a 6x8 mask: they name ``numpy.core.multiarray``
(and ``numpy.core.numeric._frombuffer`` at protocol 5), where numpy 2 writes ``numpy._core``."""


def numpy_1_pickle(protocol: int, value: object) -> bytes:
    """``value`` pickled as numpy 1.x names it: the real numpy 1.26 bytes for :data:`NUMPY_1`'s record at
    protocols 2, 4, 5; numpy 2's bytes renamed to ``numpy.core`` at protocols 0-3 (GLOBAL names are text)."""
    return pickle.dumps(value, protocol=protocol).replace(b"numpy._core.", b"numpy.core.")


@pytest.mark.parametrize("protocol", sorted(NUMPY_1))
def test_pickles_of_numpy_1_load(tmp_path, protocol):
    path = tmp_path / "numpy1.pkl"
    path.write_bytes(base64.b64decode(NUMPY_1[protocol]))
    assert b"numpy.core." in path.read_bytes() and b"numpy._core" not in path.read_bytes()
    (item,) = load_pickle(path)
    assert item["bbox"].dtype == np.float64 and item["bbox"].tolist() == [2.0, 1.0, 6.0, 4.0]
    assert isinstance(item["size"], np.int64) and item["size"] == 12
    assert item["mask"] == {"size": [6, 8], "counts": "=3300000;"} and (item["category"], item["label"]) == ("ship", 5)
    assert mask_utils.area(item["mask"]) == 12


RECORDS = [
    instance("sota", Shape(9, box=(1, 2, 9, 7))),
    instance("fast", Shape(9, rbox=(10, 10, 8, 4, 0.3))),
    instance("sior", Shape(3, box=(0.5, 1, 7, 9))),
    {"set": {1, "a"}, "frozen": frozenset({2.5}), "bytes": b"\x00\xff", "empty": b"", "array": bytearray(b"ab")},
    {"complex": 1 - 2j, "tuple": (1, None), "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3))},
    {"types": [np.array([v], dtype=d) for v, d in ((True, "?"), (-3, "i1"), (7, ">u2"), (1.5, "f2"), (2.5, ">f4"))]},
    {"scalars": [np.float32(1.25), np.uint8(3), np.bool_(True), np.int16(-2)], "empty": np.zeros((0, 3))},
]


@pytest.mark.parametrize(
    ("protocol", "numpy_1"), [(p, False) for p in range(6)] + [(p, True) for p in range(4)]
)  # numpy 1.x at protocols 4-5: the real pickles of test_pickles_of_numpy_1_load
def test_plain_pickles_of_every_protocol_load_as_pickle_would(tmp_path, protocol, numpy_1):
    data = numpy_1_pickle(protocol, RECORDS) if numpy_1 else pickle.dumps(RECORDS, protocol=protocol)
    path = tmp_path / "plain.pkl"
    path.write_bytes(data)
    loaded, expected = load_pickle(path), pickle.loads(pickle.dumps(RECORDS, protocol=protocol))
    assert len(loaded) == len(expected)
    for got, want in zip(loaded, expected):
        assert list(got) == list(want)
        for key, value in want.items():
            for a, b in zip(got[key], value) if key in ("types", "scalars") else [(got[key], value)]:
                assert type(a) is type(b), (key, a, b)
                if not isinstance(b, np.ndarray):
                    assert a == b, (key, a, b)
                    continue
                assert np.array_equal(a, b) and a.dtype.str[1:] == b.dtype.str[1:] and a.flags.writeable


# ------------------------------------------------------------------------------------------ release files


def test_split_lists_and_tiles_files_are_checked_before_reading(tmp_path):
    root = write_release(tmp_path / "release", "sota", SOTA_TILES)
    outside = tmp_path / "outside.txt"
    outside.write_text("P0004__1024__0___0\n")
    (root / "valid.txt").unlink()
    (root / "valid.txt").symlink_to(outside)
    with pytest.raises(ReleaseFileError, match=r"valid\.txt: a link to .*outside\.txt, outside --root"):
        find_layout(root, "sota")
    (root / "valid.txt").unlink()
    os.mkfifo(root / "valid.txt")
    with pytest.raises(ReleaseFileError, match=r"valid\.txt: a FIFO, not a regular file"):
        find_layout(root, "sota")
    assert find_layout(root, "sota", split_lists={"valid": outside}).split_lists == {"validation": outside}
    outside.write_text("P0004__1024__0___0\n../../etc/passwd\n")
    with pytest.raises(ReleaseFileError, match=r"outside\.txt, line 2: '\.\./\.\./etc/passwd' is not a file name"):
        import_release(ImportOptions("sota", root, tmp_path / "samrs", split_lists={"valid": outside}))
    with pytest.raises(ReleaseFileError, match=r"/dev/zero: a device, not a regular file"):
        find_layout(root, "sota", split_lists={"train": Path("/dev/zero")})  # read at most 16 MiB if unchecked
    (root / "valid.txt").unlink()
    (root / "samrs_tiles.json").write_text("[" * 10**6)
    with pytest.raises(ReleaseFileError, match=r"samrs_tiles\.json: not JSON"):
        find_layout(root, "sota")
    (root / "samrs_tiles.json").write_text('{"P0001__1024__0___0": ["a.png", -1, 0]}')
    with pytest.raises(ReleaseFileError, match=r"'P0001__1024__0___0' is not \[source, x0, y0\]"):
        find_layout(root, "sota")


# ------------------------------------------------------------------------------------------ child processes


def hostile_release(base, marker):
    """A SOTA release of good tiles (plain pkls of every protocol under numpy 1.x and 2.x names, an image
    linked inside the root) and one bad tile per attack; returns (root, good name -> instances, bad name -> reason)."""
    protocols = {f"GOOD_p{p}_numpy{v}": (p, v) for p in range(6) for v in (1, 2) if not (v == 1 and p >= 4)}
    good = {name: [Shape(9, box=(1, 2, 9, 7)), Shape(5, box=(20, 10, 50, 40))] for name in protocols}
    good["GOOD_linked_image"] = [Shape(4, box=(4, 4, 40, 30))]
    bad = {f"BAD_{name}": reason for name, (_, reason) in hostile_pkls(marker).items()}
    bad |= {f"BAD_{name}": "unsafe_file" for name in ("image_outside", "pkl_dev_zero", "gray_fifo", "pkl_fifo")}
    root = write_release(base / "release", "sota", {"train.txt": good | {name: [] for name in bad}})
    ins, gray, images = root / SEGS["sota"] / "ins", root / SEGS["sota"] / "gray", root / "images"
    for name, (protocol, numpy_version) in protocols.items():
        items = pickle.loads((ins / f"{name}.pkl").read_bytes())  # written by write_release
        data = numpy_1_pickle(protocol, items) if numpy_version == 1 else pickle.dumps(items, protocol=protocol)
        (ins / f"{name}.pkl").write_bytes(data)
    for name, (data, _) in hostile_pkls(marker).items():
        (ins / f"BAD_{name}.pkl").write_bytes(data)
    (images / "BAD_image_outside.png").rename(base / "outside.png")
    (images / "BAD_image_outside.png").symlink_to(base / "outside.png")
    (root / "kept").mkdir()
    (images / "GOOD_linked_image.png").rename(root / "kept" / "GOOD_linked_image.png")
    (images / "GOOD_linked_image.png").symlink_to(root / "kept" / "GOOD_linked_image.png")
    (ins / "BAD_pkl_dev_zero.pkl").unlink()
    (ins / "BAD_pkl_dev_zero.pkl").symlink_to("/dev/zero")
    for fifo in (gray / "BAD_gray_fifo.png", ins / "BAD_pkl_fifo.pkl"):
        fifo.unlink()
        os.mkfifo(fifo)
    return root, {name: len(shapes) for name, shapes in good.items()}, bad


def test_the_import_survives_every_attack_and_imports_the_good_tiles(tmp_path):
    marker = tmp_path / "marker"
    root, good, bad = hostile_release(tmp_path, marker)
    result = run_samrs(
        "import-release", "sota", "--root", root, "--out", tmp_path / "samrs", "--skip-bad", memory_mb=MEMORY_MB
    )
    assert_clean_exit(result)
    assert result.returncode == 0 and "Fatal Python error" not in result.stderr, result.stderr[-3000:]
    assert not marker.exists()
    written = load_dataset(str(tmp_path / "samrs"), "sota", split="train")
    assert {row["image_id"]: len(row["objects"]) for row in written} == good
    for reason in set(bad.values()):
        count = sum(r == reason for r in bad.values())
        assert f"skipped (--skip-bad), {reason}: {count}" in result.stdout, result.stdout
    shown = [line.strip() for line in result.stdout.splitlines() if "BAD_" in line]
    assert len(shown) == min(len(bad), 10) and all(len(line) < 400 for line in shown)
    assert all(sum(f"/{name}." in line for name in bad) == 1 for line in shown)


def test_the_cli_refuses_a_malicious_pkl_in_one_line(tmp_path, capsys):
    root = write_release(tmp_path / "release", "sota", SOTA_TILES)
    marker = tmp_path / "marker"
    evil = root / SEGS["sota"] / "ins" / "P0004__1024__0___0.pkl"
    evil.write_bytes(pickle.dumps([{"mask": Opener(marker)}]))
    argv = ["import-release", "sota", "--root", str(root), "--out", str(tmp_path / "samrs")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err and str(evil) in lines[0] and "io.open" in lines[0]
    assert main(argv + ["--skip-bad"]) == 0
    printed = capsys.readouterr().out
    assert "skipped (--skip-bad), unsafe_pkl: 1" in printed and str(evil) in printed and not marker.exists()


def test_an_image_linked_inside_the_root_is_read(tmp_path):
    root = write_release(tmp_path / "release", "sota", SOTA_TILES)
    image = root / "images" / "P0004__1024__0___0.png"
    (root / "kept").mkdir()
    image.rename(root / "kept" / image.name)
    image.symlink_to(root / "kept" / image.name)
    assert import_release(ImportOptions("sota", root, tmp_path / "samrs")).written == 4


def test_an_import_that_skipped_every_tile_says_why_in_one_line(tmp_path, capsys):
    root, marker = write_release(tmp_path / "release", "sota", SOTA_TILES), tmp_path / "marker"
    ins, gray = root / SEGS["sota"] / "ins", root / SEGS["sota"] / "gray"
    (ins / "P0001__1024__0___0.pkl").write_bytes(pickle.dumps([{"mask": Shell(marker)}]))
    image = root / "images" / "P0002__1024__824___0.png"
    image.write_bytes(image.read_bytes()[:200])
    Image.new("RGB", (64, 48)).save(gray / "P0003__1024__0___824.png")
    (ins / "P0004__1024__0___0.pkl").write_bytes(b"\x80\x04not a pickle")
    assert main(["import-release", "sota", "--root", str(root), "--out", str(tmp_path / "samrs"), "--skip-bad"]) == 1
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if "error:" in line]
    reasons = "bad_pkl 1, bad_semantic_map 1, unreadable_image 1, unsafe_pkl 1"
    assert f"(4 listed, 4 files skipped with --skip-bad: {reasons}; the first: {ins}" in line
    assert line.endswith("fix or replace the skipped files") and not marker.exists()
