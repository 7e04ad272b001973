"""The globals a release pkl may name, as inert stand-ins: numpy arrays, scalars and dtypes are decoded
here from plain bytes (never by numpy's own unpickling), and the builtins that rebuild bytes, sets and
complex numbers take only what pickle itself writes for them."""

from __future__ import annotations

import math

import numpy as np

from samrs_hf.dataset.release.files import describe

PLAIN_DTYPES = frozenset({"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"})
"""The dtypes an array or scalar may have: bool, integers and floats (no object, structured, subarray,
void, string or flagged dtype)."""
_PLAIN_STATE = (None, None, None, -1, -1, 0)
"""The end of a plain dtype's pickled state ``(3, byte order, subarray, names, fields, elsize, alignment,
flags)``: no subarray, no fields, no flags."""
MAX_NDIM = 8
"""Dimensions an array may have (a release pkl's have 1 or 2)."""


class PickleRefused(ValueError):
    """Why a pickle is not loaded; ``reason`` is ``unsafe_pkl`` (it names or does what a release pkl never
    does) or ``bad_pkl`` (malformed or over a bound)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def is_atom(value: object) -> bool:
    """Whether ``value`` may be a dict key or set item: hashing it costs its length, never a recursion."""
    return value is None or type(value) in (str, bytes, int, float, bool, complex)


class DType:
    """``numpy.dtype(name, align, copy)`` as a pkl builds it; BUILD gives it its state, :meth:`resolve`
    the real dtype when both are plain."""

    def __init__(self, name: object, align: object = False, copy: object = True):
        self.name, self.state = name, None
        self._resolved: np.dtype | None = None

    def set_state(self, state: object) -> None:
        self.state, self._resolved = state, None

    def resolve(self) -> np.dtype:
        if self._resolved is None:
            self._resolved = self._plain()
        return self._resolved

    def _plain(self) -> np.dtype:
        name, state = self.name, self.state
        if not (isinstance(name, str) and name in PLAIN_DTYPES):
            raise PickleRefused("unsafe_pkl", f"dtype {describe(name)} is not a plain bool, integer or float dtype")
        plain = (
            type(state) is tuple
            and len(state) == 8
            and _same(state[0], 3)
            and _one_of(state[1], ("<", ">", "|"))
            and all(_same(a, b) for a, b in zip(state[2:], _PLAIN_STATE))
        )
        if not plain:
            raise PickleRefused(
                "unsafe_pkl", f"dtype {name} has the state {describe(state)}, not a plain dtype's (fields or flags)"
            )
        return np.dtype(("=" if state[1] == "|" else state[1]) + name)


def _same(value: object, expected: object) -> bool:
    return type(value) is type(expected) and value == expected


def _one_of(value: object, options: tuple[str, ...]) -> bool:
    return type(value) is str and value in options


def _dtype(value: object) -> np.dtype:
    if not isinstance(value, DType):
        raise PickleRefused("unsafe_pkl", f"a numpy dtype given as {describe(value)}")
    return value.resolve()


def _shape(value: object) -> tuple[int, ...]:
    if not (type(value) is tuple and len(value) <= MAX_NDIM and all(type(n) is int and n >= 0 for n in value)):
        raise PickleRefused("bad_pkl", f"an array shape {describe(value)}, not at most {MAX_NDIM} sizes >= 0")
    return value


def decode_array(raw: object, dtype: object, shape: object, fortran: bool) -> np.ndarray:
    """An array of ``shape`` and plain ``dtype`` from exactly its bytes ``raw``."""
    dtype, shape = _dtype(dtype), _shape(shape)
    if not isinstance(raw, (bytes, bytearray)):
        raise PickleRefused("unsafe_pkl", f"array data given as {describe(raw)}, not bytes")
    needed = math.prod(shape) * dtype.itemsize
    if needed != len(raw):
        raise PickleRefused("bad_pkl", f"an array of shape {shape} and dtype {dtype} with {len(raw)} bytes of data")
    return np.frombuffer(raw, dtype).reshape(shape, order="F" if fortran else "C").copy(order="K")


class PendingArray:
    """What ``multiarray._reconstruct(ndarray, ...)`` returns: an empty placeholder that the pkl's BUILD
    fills (:meth:`decode`); ``memo_keys`` are the memo entries that hold it, so they get the array too."""

    def __init__(self) -> None:
        self.memo_keys: list[object] = []

    def decode(self, state: object) -> np.ndarray:
        """The array of ``ndarray.__setstate__``'s ``(1, shape, dtype, is_fortran, data)``."""
        if not (type(state) is tuple and len(state) == 5 and _same(state[0], 1) and type(state[3]) is bool):
            raise PickleRefused("bad_pkl", f"an array state {describe(state)}, not (1, shape, dtype, order, data)")
        return decode_array(state[4], state[2], state[1], state[3])


NDARRAY = object()
"""``numpy.ndarray`` as a pkl names it: only ever the type handed to ``_reconstruct``."""


def _reconstruct(subtype: object, shape: object = (0,), typecode: object = b"b") -> PendingArray:
    if subtype is not NDARRAY:
        raise PickleRefused("unsafe_pkl", f"_reconstruct of {describe(subtype)}, not of numpy.ndarray")
    return PendingArray()


def _scalar(dtype: object, data: object) -> np.generic:
    return decode_array(data, dtype, (), fortran=False)[()]


def _frombuffer(buffer: object, dtype: object, shape: object, order: object) -> np.ndarray:
    if not _one_of(order, ("C", "F")):
        raise PickleRefused("bad_pkl", f"array order {describe(order)}, not 'C' or 'F'")
    return decode_array(buffer, dtype, shape, fortran=order == "F")


def _text_bytes(kind: type, args: tuple) -> bytes | bytearray:
    """``bytes``/``bytearray`` as pickle writes them: of nothing, of bytes, or of a latin-1 str (protocols
    0-2). Never of a number, which would allocate that many bytes."""
    if not args:
        return kind()
    if len(args) == 1 and isinstance(args[0], (bytes, bytearray)):
        return kind(args[0])
    if len(args) == 2 and isinstance(args[0], str) and _one_of(args[1], ("latin1", "latin-1")):
        return kind(args[0].encode("latin-1"))
    raise PickleRefused("unsafe_pkl", f"{kind.__name__} of {describe(args)}: pickle writes only bytes or latin-1 text")


def _bytes(*args: object) -> bytes:
    return _text_bytes(bytes, args)


def _bytearray(*args: object) -> bytearray:
    return _text_bytes(bytearray, args)


def _encode(text: object, encoding: object = "utf-8") -> bytes:
    """``_codecs.encode(text, 'latin1')``, how protocols 0-2 write bytes."""
    return _text_bytes(bytes, (text, encoding))


def _items(kind: type, args: tuple) -> set | frozenset:
    if len(args) > 1 or (args and not (isinstance(args[0], (list, tuple)) and all(map(is_atom, args[0])))):
        raise PickleRefused("unsafe_pkl", f"{kind.__name__} of {describe(args)}: only of a list of plain values")
    return kind(*args)


def _set(*args: object) -> set:
    return _items(set, args)


def _frozenset(*args: object) -> frozenset:
    return _items(frozenset, args)


def _complex(real: object = 0.0, imag: object = 0.0) -> complex:
    if not all(type(v) in (int, float) for v in (real, imag)):
        raise PickleRefused("unsafe_pkl", f"complex of {describe(real)}, {describe(imag)}: only of two numbers")
    return complex(real, imag)


_NUMPY_CORE = {
    "multiarray": {"_reconstruct": _reconstruct, "scalar": _scalar},
    "numeric": {"_frombuffer": _frombuffer},
}
ADMITTED: dict[tuple[str, str], object] = {
    ("builtins", "bytes"): _bytes,
    ("builtins", "bytearray"): _bytearray,
    ("builtins", "set"): _set,
    ("builtins", "frozenset"): _frozenset,
    ("builtins", "complex"): _complex,
    ("_codecs", "encode"): _encode,
    ("numpy", "dtype"): DType,
    ("numpy", "ndarray"): NDARRAY,
} | {
    (f"{core}.{module}", name): standin
    for core in ("numpy.core", "numpy._core")
    for module, names in _NUMPY_CORE.items()
    for name, standin in names.items()
}
"""Every global a release pkl may name -> its stand-in: what pickle protocols 0-5 write for lists and
dicts of str, numbers and numpy arrays and scalars under numpy 1.x (``numpy.core``) and 2.x
(``numpy._core``). Arrays: ``multiarray._reconstruct`` + ``ndarray`` + ``dtype`` (protocols 0-4) or
``numeric._frombuffer`` (protocol 5); scalars: ``multiarray.scalar`` + ``dtype``; ``_codecs.encode``
rebuilds bytes in protocols 0-2; sets, bytes, bytearrays and complex numbers their builtins."""
CALLABLE = frozenset(id(standin) for standin in ADMITTED.values() if standin is not NDARRAY)
"""Identities of the stand-ins a pkl's REDUCE may call."""
