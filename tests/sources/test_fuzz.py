"""Seeded fuzzing of every detection reader and of image reading, from the real-format fixtures.

Each case mutates a copy of a fixture (in ``tmp_path``) and must end in one of: success with sane objects,
an :class:`AnnotationError` (image reads: :class:`ImageReadError` or a size ``ValueError``) whose message
names the file and the line (text) or the object / tag (XML), or, with ``skip_bad=True``, the bad file or
object skipped and counted in ``report`` with a message naming the file. Anything else fails the test:
another exception type, any warning or numpy floating-point error in a reader (both raised here), a case
slower than ``CASE_SECONDS``.
"""

from __future__ import annotations

import copy
import io
import random
import re
import shutil
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from samrs_hf.records import ImageReadError, SourceImage, read_size
from samrs_hf.sources import DIOR, DOTA, FAIR1M, HRSC2016, AnnotationError, DetectionSource
from samrs_hf.sources.base import image_size

SEED = 20240607
CASES_PER_FORMAT = 600
"""Mutated annotation files tried per reader format (DOTA, DIOR, DIOR-R, FAIR1M, HRSC2016)."""
IMAGE_CASES = 400
"""Mutated image files tried, each through ``SourceImage.read``, ``read_size`` and ``image_size``."""
CASE_SECONDS = 1.0
"""No single case may take longer (a parser blow-up or a hang shows up here)."""

BAD_NUMBERS = (
    *("1e308", "-1e308", "1e309", "-1e400", "1e999999", "2e6", "-1000001", "2147483648", "9" * 400, "1e-320"),
    *("nan", "NaN", "-nan", "inf", "-Infinity", "", " ", "abc", "0x1F", "1,5", "1.2.3", "--1", "+", "1e"),
    *("\u0663", "1_0", "-5", "0", "-0", "12\x00", "\u00a0", "\u2028", "1e6", "<", "&amp;", "3.4e38"),
)
UNKNOWN_CLASSES = ("Plane", "spaceship", "ship\u200b", "\u98de\u673a", "small_vehicle", "100000099", "1000000", "x y")
ENCODINGS = ("latin-1", "utf-16", "shift_jis", "foo", "utf-32", "ascii", "cp1252", "rot13", "idna", "punycode")


def _pick(rng: random.Random, data: bytes) -> int:
    return rng.randrange(len(data) + 1)


# Byte-level mutations, shared by every format.


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: _pick(rng, data)]


def _flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8) if out else 0):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def _insert(rng: random.Random, data: bytes) -> bytes:
    at = _pick(rng, data)
    junk = rng.choice([b"\x00", "\u00e9".encode("latin-1"), b"\xff\xfe", b"\r", b"\x0c", b"\x85", rng.randbytes(8)])
    return data[:at] + junk + data[at:]


def _delete_span(rng: random.Random, data: bytes) -> bytes:
    at = _pick(rng, data)
    return data[:at] + data[at + rng.randint(1, 40) :]


def _empty(rng: random.Random, data: bytes) -> bytes:
    return rng.choice([b"", b" ", b"\n", b"\xef\xbb\xbf"])


def _bom(rng: random.Random, data: bytes) -> bytes:
    return b"\xef\xbb\xbf" + data


def _newlines(rng: random.Random, data: bytes) -> bytes:
    lf = data.replace(b"\r\n", b"\n")
    return rng.choice([lf, lf.replace(b"\n", b"\r\n"), lf.replace(b"\n", b"\r")])


def _utf16(rng: random.Random, data: bytes) -> bytes:
    return data.decode("utf-8", "replace").encode(rng.choice(["utf-16", "utf-16-le", "utf-16-be"]))


BYTE_MUTATIONS = (_truncate, _flip, _insert, _delete_span, _empty, _bom, _newlines, _utf16)


# DOTA labelTxt: line and field mutations.


def _lines_mutation(rng: random.Random, data: bytes) -> bytes:
    lines = data.decode("utf-8").splitlines()
    if not lines:
        return data
    i = rng.randrange(len(lines))
    fields = lines[i].split()
    op = rng.randrange(9)
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(i, lines[i])
    elif op == 2 and fields:
        del fields[rng.randrange(len(fields))]
    elif op == 3 and fields:
        fields.insert(rng.randrange(len(fields)), rng.choice(fields))
    elif op == 4 and fields:
        fields[rng.randrange(min(8, len(fields)))] = rng.choice(BAD_NUMBERS)
    elif op == 5 and len(fields) > 8:
        fields[8] = rng.choice(UNKNOWN_CLASSES)
    elif op == 6 and len(fields) > 9:
        fields[9] = rng.choice(["2", "-1", "yes", "1.0", "\u00e9"])
    elif op == 7:
        lines.insert(i, rng.choice(["gsd:", "imagesource:", "gsd:abc", ":", "\t", "a b c", "x" * 300]))
    else:
        rng.shuffle(fields)
    if op in (2, 3, 4, 5, 6, 8):
        lines[i] = rng.choice([" ", "\t", "  "]).join(fields)
    return "\r\n".join(lines).encode("utf-8")


# XML: tree mutations (drop, duplicate, rename, replace text, drop size, nest garbage, entities) and encodings.


def _xml_mutation(rng: random.Random, data: bytes) -> bytes:
    root = ET.fromstring(data)
    parents = {child: parent for parent in root.iter() for child in parent}
    element = rng.choice(list(parents))
    op = rng.randrange(8)
    if op == 0:
        parents[element].remove(element)
    elif op == 1:
        parent = parents[element]
        parent.insert(list(parent).index(element), copy.deepcopy(element))
    elif op == 2:
        element.tag = rng.choice(["x", "object", "size", "name", "points", "HRSC_Object", "robndbox"])
    elif op in (3, 4):
        leaf = rng.choice([e for e in root.iter() if len(e) == 0])
        values = UNKNOWN_CLASSES if leaf.tag in ("name", "Class_ID") else BAD_NUMBERS
        leaf.text = rng.choice(values).replace("\x00", "")  # XML cannot hold NUL
    elif op == 5:
        for size in [e for e in root.iter() if e.tag in ("size", "width", "height", "Img_SizeWidth", "Img_SizeHeight")]:
            if size in parents and rng.random() < 0.7:
                parents[size].remove(size)
    elif op == 6:
        inner = element
        for _ in range(rng.choice([1, 5, 300])):
            inner = ET.SubElement(inner, rng.choice(["object", "a", "points", "point", "name"]))
        inner.text = rng.choice(BAD_NUMBERS + UNKNOWN_CLASSES).replace("\x00", "")
    else:
        element.text = "&e;"
    text = ET.tostring(root, encoding="unicode")
    if op == 7:
        text = '<!DOCTYPE d [<!ENTITY e "' + rng.choice(["ship", "x" * 1000, "<a/>", "&#0;"]) + '">]>' + text
        text = text.replace("&amp;e;", "&e;")
    if rng.random() < 0.5:
        text = '<?xml version="1.0" encoding="UTF-8"?>\n' + text
    return text.encode("utf-8")


def _xml_encoding(rng: random.Random, data: bytes) -> bytes:
    body = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", data.lstrip(b"\xef\xbb\xbf"))
    encoding = rng.choice(ENCODINGS)
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>'.encode()
    if rng.random() < 0.3:
        return body.decode("utf-8", "replace").replace("ship", "\u00e9").encode(encoding, "replace")
    return declaration + body


def billion_laughs() -> bytes:
    entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10))
    return f'<!DOCTYPE d [<!ENTITY e0 "lol">{entities}]><annotation><name>&e9;</name></annotation>'.encode()


def quadratic_blowup() -> bytes:
    return (
        f'<!DOCTYPE d [<!ENTITY a "{"x" * 100_000}">]><annotation><name>{"&a;" * 20_000}</name></annotation>'.encode()
    )


@dataclass
class Format:
    """One reader format: fixture files to mutate, where a case's file goes, and the reader.

    Each image id has a root of its own holding just its annotation and image."""

    name: str
    bases: dict[str, bytes]  # image id -> original annotation bytes
    tmp: Path
    annotation: str  # path of the annotation under the image's root, "{}" standing for the image id
    make_reader: Callable[..., DetectionSource]  # (root, skip_bad=...)
    mutations: tuple

    def path(self, image_id: str) -> Path:
        return self.tmp / image_id / self.annotation.format(image_id)

    def reader(self, image_id: str, skip_bad: bool) -> DetectionSource:
        return self.make_reader(self.tmp / image_id, skip_bad=skip_bad)

    def mutate(self, rng: random.Random, data: bytes) -> bytes:
        for _ in range(rng.choice([1, 1, 2, 3])):
            try:
                data = rng.choice(self.mutations)(rng, data)
            except (ET.ParseError, ValueError, LookupError):  # an earlier mutation broke the structure
                data = rng.choice(BYTE_MUTATIONS)(rng, data)
        return data


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


XML_MUTATIONS = (_xml_mutation,) * 8 + (_xml_encoding,) + BYTE_MUTATIONS


def _dota(tmp: Path, fixtures: Path) -> Format:
    stems = ("P1888", "P2805__1024__0___0")
    for stem in stems:
        _copy(fixtures / "dota" / "images" / f"{stem}.png", tmp / stem / "images" / f"{stem}.png")
        (tmp / stem / "labelTxt").mkdir()
    bases = {stem: (fixtures / "dota" / "labelTxt" / f"{stem}.txt").read_bytes() for stem in stems}
    return Format("dota", bases, tmp, "labelTxt/{}.txt", DOTA, (_lines_mutation,) * 8 + BYTE_MUTATIONS)


def _dior(tmp: Path, fixtures: Path, oriented: bool) -> Format:
    folder = "Oriented Bounding Boxes" if oriented else "Horizontal Bounding Boxes"
    ids = ("00001", "00008", "00968")
    for image_id in ids:
        _copy(fixtures / "dior" / "JPEGImages" / "00001.jpg", tmp / image_id / "JPEGImages" / f"{image_id}.jpg")
        (tmp / image_id / "Annotations" / folder).mkdir(parents=True)
    bases = {i: (fixtures / "dior" / "Annotations" / folder / f"{i}.xml").read_bytes() for i in ids}
    reader = partial(DIOR, oriented=oriented)
    return Format("dior-r" if oriented else "dior", bases, tmp, f"Annotations/{folder}/{{}}.xml", reader, XML_MUTATIONS)


def _fair1m(tmp: Path, fixtures: Path) -> Format:
    bases = {i: (fixtures / "fair1m" / "labelXml" / f"{i}.xml").read_bytes() for i in ("0", "505", "813")}
    for image_id, data in bases.items():
        (tmp / image_id / "images").mkdir(parents=True)
        (tmp / image_id / "labelXml").mkdir()
        size = ET.fromstring(data).find("size")
        blank = Image.new("RGB", (int(size.findtext("width")), int(size.findtext("height"))))
        blank.save(tmp / image_id / "images" / f"{image_id}.tif", compression="tiff_deflate")
    return Format("fair1m", bases, tmp, "labelXml/{}.xml", FAIR1M, XML_MUTATIONS)


def _hrsc(tmp: Path, fixtures: Path) -> Format:
    _copy(fixtures / "hrsc2016" / "AllImages" / "100000002.bmp", tmp / "100000002" / "AllImages" / "100000002.bmp")
    (tmp / "100000002" / "Annotations").mkdir()
    bases = {"100000002": (fixtures / "hrsc2016" / "Annotations" / "100000002.xml").read_bytes()}
    return Format("hrsc2016", bases, tmp, "Annotations/{}.xml", HRSC2016, XML_MUTATIONS)


FORMATS = {
    "dota": _dota,
    "dior": lambda tmp, fixtures: _dior(tmp, fixtures, oriented=False),
    "dior-r": lambda tmp, fixtures: _dior(tmp, fixtures, oriented=True),
    "fair1m": _fair1m,
    "hrsc2016": _hrsc,
}


def assert_sane(image: SourceImage, classes: tuple[str, ...]) -> None:
    """Positive size; every object of a known class, finite, with x0 < x1, y0 < y1, not wholly outside."""
    assert isinstance(image.width, int) and isinstance(image.height, int) and image.width > 0 and image.height > 0
    for obj in image.objects:
        assert obj.category in classes
        x0, y0, x1, y1 = obj.hbox
        assert np.all(np.isfinite(obj.hbox)) and x0 < x1 and y0 < y1
        assert x1 > 0 and y1 > 0 and x0 < image.width and y0 < image.height
        if obj.polygon is not None:
            assert np.all(np.isfinite(obj.polygon)) and obj.polygon.shape[1] == 2
        if obj.rbox is not None:
            assert np.all(np.isfinite(obj.rbox)) and obj.rbox[2] > 0 and obj.rbox[3] > 0


def assert_names_place(error: AnnotationError, path: Path, data: bytes, text_format: bool) -> None:
    """The message starts with the file; a bad record also names its line (text) or line / object / tag (XML)."""
    message = str(error)
    assert message.startswith(str(path)), message
    assert "\n" not in message, message
    if error.line is not None:
        assert message.startswith(f"{path}:{error.line}: ")
        assert 1 <= error.line <= max(1, len(data.splitlines()) + 1), message
    if error.reason in ("malformed", "unknown_class"):
        where = re.search(r": (object|HRSC_Object) \d+: ", message) or "<" in message
        assert error.line is not None or (not text_format and where), message


def run_case(fmt: Format, image_id: str, data: bytes) -> None:
    """Write ``data`` as ``image_id``'s annotation and read it; when that fails, read it again with ``skip_bad``."""
    path = fmt.path(image_id)
    path.write_bytes(data)
    strict = fmt.reader(image_id, skip_bad=False)
    try:
        assert_sane(strict.load(image_id), strict.classes)
        return
    except AnnotationError as error:
        assert_names_place(error, path, data, text_format=fmt.name == "dota")
        failure = error
    lenient = fmt.reader(image_id, skip_bad=True)
    images = list(lenient)
    assert len(images) <= 1 and str(failure) in lenient.report.messages
    assert all(message.startswith(str(path)) for message in lenient.report.messages)
    for image in images:
        assert_sane(image, lenient.classes)


@pytest.mark.parametrize("name", list(FORMATS))
def test_fuzz_reader(name, tmp_path, fixtures_dir):
    fmt = FORMATS[name](tmp_path, fixtures_dir)
    rng = random.Random(f"{SEED}-{name}")
    cases = list(fmt.bases.items())  # the fixtures themselves read
    while len(cases) < CASES_PER_FORMAT:
        image_id = rng.choice(sorted(fmt.bases))
        cases.append((image_id, fmt.mutate(rng, fmt.bases[image_id])))
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        for number, (image_id, data) in enumerate(cases):
            start = time.perf_counter()
            try:
                run_case(fmt, image_id, data)
            except Exception as error:
                raise AssertionError(f"{name} case {number} ({image_id}, {data[:300]!r}): {error!r}") from error
            assert time.perf_counter() - start < CASE_SECONDS, f"{name} case {number} took too long"


@pytest.mark.parametrize("name", [name for name in FORMATS if name != "dota"])
@pytest.mark.parametrize("bomb", [billion_laughs, quadratic_blowup])
def test_entity_expansion_bombs_are_refused(name, bomb, tmp_path, fixtures_dir):
    """Python's expat (2.4.1 and later) caps entity amplification; the reader reports it, naming the file."""
    fmt = FORMATS[name](tmp_path, fixtures_dir)
    image_id = next(iter(fmt.bases))
    fmt.path(image_id).write_bytes(bomb())
    start = time.perf_counter()
    with pytest.raises(
        AnnotationError, match=rf"^{re.escape(str(fmt.path(image_id)))}:1: malformed XML: limit on input"
    ):
        fmt.reader(image_id, skip_bad=False).load(image_id)
    assert time.perf_counter() - start < CASE_SECONDS


@pytest.mark.parametrize("name", list(FORMATS))
def test_same_content_in_another_encoding_reads_the_same(name, tmp_path, fixtures_dir):
    """A UTF-8 BOM, CRLF / LF / CR line ends and (XML) UTF-16 with a BOM change nothing."""
    fmt = FORMATS[name](tmp_path, fixtures_dir)
    image_id, data = next(iter(fmt.bases.items()))
    fmt.path(image_id).write_bytes(data)
    expected = [(o.category, list(o.hbox)) for o in fmt.reader(image_id, skip_bad=False).load(image_id).objects]
    assert expected
    lf = data.replace(b"\r\n", b"\n")
    variants = [b"\xef\xbb\xbf" + data, lf, lf.replace(b"\n", b"\r\n"), lf.replace(b"\n", b"\r")]
    if name != "dota":
        body = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", data).decode("utf-8")
        variants.append(('<?xml version="1.0" encoding="UTF-16"?>' + body).encode("utf-16"))
    for variant in variants:
        fmt.path(image_id).write_bytes(variant)
        objects = fmt.reader(image_id, skip_bad=False).load(image_id).objects
        assert [(o.category, list(o.hbox)) for o in objects] == expected


# Images: SourceImage.read, read_size and image_size.


def _image_bases(fixtures: Path) -> dict[str, bytes]:
    """Real JPEG / RGBA PNG / BMP fixtures, and small crops of them as PNG, BMP, JPEG and TIFF (raw, LZW)."""
    bases = {
        "real.jpg": (fixtures / "dior" / "JPEGImages" / "00001.jpg").read_bytes(),
        "real.png": (fixtures / "dota" / "images" / "P2805__1024__0___0.png").read_bytes(),
    }
    with Image.open(fixtures / "hrsc2016" / "AllImages" / "100000002.bmp") as scene:
        crop = scene.convert("RGB").crop((300, 200, 364, 248))
    for name, kwargs in [
        ("crop.png", {}),
        ("crop.bmp", {}),
        ("crop.jpg", {"quality": 90}),
        ("crop.tif", {}),
        ("lzw.tif", {"compression": "tiff_lzw"}),
    ]:
        buffer = io.BytesIO()
        crop.save(buffer, format=Image.registered_extensions()[Path(name).suffix], **kwargs)
        bases[name] = buffer.getvalue()
    return bases


def _decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def check_image(path: Path, size: tuple[int, int], original: np.ndarray | None) -> None:
    """``read`` gives RGB of ``size`` (the original pixels when given), or names the file in its error;
    ``read_size`` and ``image_size`` succeed or name the file."""
    try:
        rgb = SourceImage(path.stem, path, *size, []).read()
    except ImageReadError as error:
        assert str(error).startswith(f"{path}: cannot read image: ") and "\n" not in str(error)
    except ValueError as error:
        assert re.fullmatch(rf"{re.escape(str(path))}: image is \d+x\d+ but its annotation says \d+x\d+", str(error))
    else:
        assert rgb.mode == "RGB" and rgb.size == size
        if original is not None:
            np.testing.assert_array_equal(np.asarray(rgb), original)
    try:
        width, height = read_size(path)
    except ImageReadError as error:
        assert str(error).startswith(f"{path}: cannot read image: ")
    else:
        assert isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0
    annotation = path.with_suffix(".txt")
    try:
        image_size(path, annotation)
    except AnnotationError as error:
        assert error.reason == "unreadable_image" and str(error).startswith(f"{annotation}: {path}: cannot read image")


def test_fuzz_images(tmp_path, fixtures_dir):
    bases = _image_bases(fixtures_dir)
    decoded = {name: _decoded(data) for name, data in bases.items()}
    rng = random.Random(f"{SEED}-images")
    mutations = (_truncate, _truncate, _flip, _insert, _delete_span, _empty)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL")  # Pillow's notes on corrupt metadata
        for number in range(IMAGE_CASES):
            name = rng.choice(sorted(bases))
            mutation = rng.choice(mutations)
            data = mutation(rng, bases[name]) if number % 20 else rng.randbytes(rng.randrange(2000))
            path = tmp_path / f"case{number}{Path(name).suffix}"
            path.write_bytes(data)
            size = decoded[name].shape[1], decoded[name].shape[0]
            start = time.perf_counter()
            check_image(path, size, decoded[name] if mutation is _truncate else None)
            assert time.perf_counter() - start < CASE_SECONDS, f"image case {number} took too long"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("name", ["real.jpg", "real.png", "crop.bmp", "crop.tif"])
def test_truncated_image_raises_naming_the_file(name, tmp_path, fixtures_dir):
    """PIL finds truncation only when decoding; ``read`` must raise it, never pad the missing pixels."""
    data = _image_bases(fixtures_dir)[name]
    height, width = _decoded(data).shape[:2]
    path = tmp_path / f"half{Path(name).suffix}"
    path.write_bytes(data[: len(data) // 2])
    assert read_size(path) == (width, height)
    with pytest.raises(ImageReadError, match=rf"^{re.escape(str(path))}: cannot read image: image file is truncated"):
        SourceImage("half", path, width, height, []).read()
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L", "P", "PA", "1", "CMYK", "YCbCr"])
def test_any_mode_reads_as_rgb(mode, tmp_path):
    """Every format Pillow writes the 8-bit mode in (PNG, TIFF, BMP, JPEG) reads back as RGB (wider samples are
    refused: tests/test_records.py)."""
    image = Image.new(mode, (20, 10))
    if mode in ("P", "PA"):
        image.info["transparency"] = 0
    written = 0
    for suffix in (".png", ".tif", ".bmp", ".jpg"):
        path = tmp_path / f"image{suffix}"
        try:
            image.save(path)
        except (OSError, KeyError, ValueError):
            continue
        rgb = SourceImage("image", path, 20, 10, []).read()
        assert (rgb.mode, rgb.size) == ("RGB", (20, 10))
        written += 1
    assert written


def test_empty_random_and_other_size_images(tmp_path):
    for name, data in [("empty.png", b""), ("noise.jpg", random.Random(SEED).randbytes(500)), ("text.bmp", b"BM hi")]:
        path = tmp_path / name
        path.write_bytes(data)
        check_image(path, (8, 8), None)
        with pytest.raises(ImageReadError, match=rf"^{re.escape(str(path))}: cannot read image"):
            SourceImage("x", path, 8, 8, []).read()
    with pytest.raises(ImageReadError, match=r"missing\.png: cannot read image"):
        SourceImage("x", tmp_path / "missing.png", 8, 8, []).read()
    path = tmp_path / "small.png"
    Image.new("RGB", (8, 6)).save(path)
    with pytest.raises(ValueError, match=r"small\.png: image is 8x6 but its annotation says 9x6"):
        SourceImage("x", path, 9, 6, []).read()


def test_readme_states_the_case_counts():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"{CASES_PER_FORMAT} mutated files per format" in readme
    assert f"{IMAGE_CASES} truncated or corrupted" in readme
