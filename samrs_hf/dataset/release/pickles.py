"""Safe unpickling of the release's ``ins/*.pkl``: builtins containers and numpy arrays and scalars only,
within bounds a release pkl never comes near.

pickle's pure-Python unpickler runs the opcodes, restricted: the globals of
:data:`~samrs_hf.dataset.release.pickle_globals.ADMITTED` become inert stand-ins (numpy never rebuilds
an array, scalar or dtype from pickle state), BUILD and REDUCE act on those stand-ins only, dict keys
and set items are plain values, and the file size, every item's length, the opcodes run, the memo,
the marks and the loaded value's size and depth are bounded. Anything else is refused before it runs.
"""

from __future__ import annotations

import io
import pickle
import pickletools
from itertools import repeat
from pathlib import Path
from struct import unpack
from typing import ClassVar

from samrs_hf.dataset.release.files import ReleaseFileError, clip, describe, read_regular_file
from samrs_hf.dataset.release.format import MAX_INSTANCES, MAX_PKL_BYTES
from samrs_hf.dataset.release.pickle_globals import ADMITTED, CALLABLE, DType, PendingArray, PickleRefused, is_atom

MAX_OPCODES = 200 * MAX_INSTANCES
"""Opcodes a pkl may run, each making at most one object or memo entry (per instance, protocol 0 runs the
most: ``opcodes_per_instance`` in benchmarks/results_release_pickles_cpu.json)."""
MAX_VALUES = 50 * MAX_INSTANCES
"""Values the loaded object may reach, counted along every reference (shared ones as often as they are
reached, so a memo-reference DAG cannot multiply the work of whoever walks it); an instance dict reaches
its keys and values, its RLE's, and its mask size's two numbers."""
MAX_DEPTH = 16
"""Nesting of the loaded object (an instance list is 4 deep: list, dict, RLE dict, size list)."""
MAX_MARKS = 64
"""Open MARKs (tuples, lists, dicts and sets being built) at once."""
MAX_ITEM_BYTES = 2**24
"""Default bound of one str, bytes or number in the file; the import passes the bound of its tile's RLEs."""

_REFUSED_OPCODES = {
    op.code.encode("latin-1")[0]: op.name
    for op in pickletools.opcodes
    if op.name in ("PERSID", "BINPERSID", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4")
    or op.name in ("NEXT_BUFFER", "READONLY_BUFFER")
}
"""Opcodes no release pkl uses: class instances, persistent ids, the extension registry, out-of-band buffers."""


class UnsafePickleError(ReleaseFileError):
    """A pickle that names or does something besides builtins containers and numpy arrays/scalars."""

    def __init__(self, message: str):
        super().__init__("unsafe_pkl", message)


class _Stop(Exception):
    def __init__(self, value: object):
        self.value = value


class _Memo(dict):
    """The unpickler's memo (one entry per opcode at most); it notes the entries that hold a :class:`PendingArray`."""

    def __setitem__(self, key: object, value: object) -> None:
        if isinstance(value, PendingArray):
            value.memo_keys.append(key)
        super().__setitem__(key, value)


class SafeUnpickler(pickle._Unpickler):
    """Unpickles ``data`` (a whole pkl, already in memory) admitting only the globals of
    :data:`~samrs_hf.dataset.release.pickle_globals.ADMITTED`, as their stand-ins; anything else raises
    :class:`~samrs_hf.dataset.release.pickle_globals.PickleRefused` before it runs. Items (str, bytes,
    numbers) longer than ``max_item_bytes`` are refused."""

    def __init__(self, data: bytes, max_item_bytes: int = MAX_ITEM_BYTES):
        self._file = io.BytesIO(data)
        super().__init__(self._file)
        self.memo = _Memo()
        self.max_item_bytes = max_item_bytes

    def load(self) -> object:
        self.read, self.readline = self._read, self._readline
        self.metastack, self.stack = [], []
        self.append = self.stack.append
        next_opcode, dispatch = self._file.read, self.dispatch
        for _ in range(MAX_OPCODES):
            code = next_opcode(1)
            if not code:
                raise PickleRefused("bad_pkl", "truncated: the file ends before the pickle's end")
            handler = dispatch.get(code[0])
            if handler is None:
                name = _REFUSED_OPCODES.get(code[0])
                if name is None:
                    raise PickleRefused("bad_pkl", f"invalid pickle opcode 0x{code[0]:02x}")
                raise PickleRefused("unsafe_pkl", f"refused the pickle opcode {name}, which no release pkl uses")
            try:
                handler(self)
            except _Stop as stop:
                _check_tree(stop.value)
                return stop.value
        raise PickleRefused("bad_pkl", f"more than {MAX_OPCODES} pickle opcodes")

    def _read(self, size: int) -> bytes:
        if size > self.max_item_bytes:
            raise PickleRefused("bad_pkl", f"an item of {size} bytes, more than the {self.max_item_bytes} allowed")
        data = self._file.read(size)
        if len(data) < size:
            raise PickleRefused("bad_pkl", "truncated: the file ends inside an item or before the pickle's end")
        return data

    def _readline(self) -> bytes:
        line = self._file.readline(self.max_item_bytes + 1)
        if not line.endswith(b"\n"):
            raise PickleRefused("bad_pkl", "truncated, or a line longer than the items allowed")
        return line

    def find_class(self, module: str, name: str) -> object:
        module = "builtins" if module == "__builtin__" else module
        if (module, name) not in ADMITTED:
            raise PickleRefused(
                "unsafe_pkl",
                f"refused to unpickle {clip(module, 60)}.{clip(name, 60)}: a release pkl holds only "
                "lists, dicts, strings, numbers and numpy arrays, so this file is not one and may be unsafe "
                "(nothing in it was run)",
            )
        return ADMITTED[module, name]

    dispatch: ClassVar[dict] = {
        code: handler for code, handler in pickle._Unpickler.dispatch.items() if code not in _REFUSED_OPCODES
    }

    def load_stop(self) -> None:
        raise _Stop(self.stack.pop())

    dispatch[pickle.STOP[0]] = load_stop

    def load_frame(self) -> None:
        self.read(8)  # the whole file is in memory: a frame only groups the bytes that follow

    dispatch[pickle.FRAME[0]] = load_frame

    def load_mark(self) -> None:
        if len(self.metastack) >= MAX_MARKS:
            raise PickleRefused("bad_pkl", f"more than {MAX_MARKS} nested marks")
        self.metastack.append(self.stack)
        self.stack = []
        self.append = self.stack.append

    dispatch[pickle.MARK[0]] = load_mark

    def load_bytearray8(self) -> None:
        (size,) = unpack("<Q", self.read(8))
        self.append(bytearray(self.read(size)))  # read first: pickle's own allocates the size it is told

    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8

    def load_reduce(self) -> None:
        args = self.stack.pop()
        function = self.stack[-1]
        if id(function) not in CALLABLE or type(args) is not tuple:
            raise PickleRefused("unsafe_pkl", f"a call of {describe(function)}, not of an admitted global")
        self.stack[-1] = function(*args)

    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_build(self) -> None:
        state = self.stack.pop()
        target = self.stack[-1]
        if isinstance(target, DType):
            target.set_state(state)
        elif isinstance(target, PendingArray):
            array = target.decode(state)
            self.stack[-1] = array
            for key in target.memo_keys:
                if self.memo.get(key) is target:
                    self.memo[key] = array
        else:
            raise PickleRefused("unsafe_pkl", f"a state set on {describe(target)}: only numpy arrays and dtypes")

    dispatch[pickle.BUILD[0]] = load_build

    def load_dict(self) -> None:
        items = self.pop_mark()
        self.append(_dict({}, items))

    dispatch[pickle.DICT[0]] = load_dict

    def load_setitem(self) -> None:
        value, key = self.stack.pop(), self.stack.pop()
        _dict(self.stack[-1], [key, value])

    dispatch[pickle.SETITEM[0]] = load_setitem

    def load_setitems(self) -> None:
        items = self.pop_mark()
        _dict(self.stack[-1], items)

    dispatch[pickle.SETITEMS[0]] = load_setitems

    def load_append(self) -> None:
        value = self.stack.pop()
        _list(self.stack[-1]).append(value)

    dispatch[pickle.APPEND[0]] = load_append

    def load_appends(self) -> None:
        items = self.pop_mark()
        _list(self.stack[-1]).extend(items)

    dispatch[pickle.APPENDS[0]] = load_appends

    def load_additems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        if type(target) is not set:
            raise PickleRefused("bad_pkl", f"set items added to {describe(target)}")
        target.update(_atoms(items))

    dispatch[pickle.ADDITEMS[0]] = load_additems

    def load_frozenset(self) -> None:
        items = self.pop_mark()
        self.append(frozenset(_atoms(items)))

    dispatch[pickle.FROZENSET[0]] = load_frozenset


def _atoms(items: list) -> list:
    if not all(map(is_atom, items)):
        raise PickleRefused("bad_pkl", "a set item that is not a plain value (str, bytes or a number)")
    return items


def _dict(target: object, items: list) -> dict:
    if type(target) is not dict:
        raise PickleRefused("bad_pkl", f"dict items set on {describe(target)}")
    keys = items[::2]
    if len(items) % 2 or not all(map(is_atom, keys)):
        raise PickleRefused("bad_pkl", "a dict key that is not a plain value (str, bytes or a number), or none")
    target.update(zip(keys, items[1::2]))
    return target


def _list(target: object) -> list:
    if type(target) is not list:
        raise PickleRefused("bad_pkl", f"list items appended to {describe(target)}")
    return target


def _check_tree(value: object) -> None:
    """Refuse a loaded value that reaches more than :data:`MAX_VALUES` values (shared ones counted each time,
    cycles without end), nests deeper than :data:`MAX_DEPTH` or holds an unfinished stand-in."""
    pending, reached = [(value, 0)], 1
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (PendingArray, DType)):
            raise PickleRefused("bad_pkl", "a numpy array or dtype that the pickle never finished")
        if type(value) is dict:
            children = [part for pair in value.items() for part in pair]
        elif type(value) in (list, tuple):
            children = value
        else:
            continue
        reached += len(children)
        if reached > MAX_VALUES:
            raise PickleRefused("bad_pkl", f"it reaches more than {MAX_VALUES} values (repeated or cyclic references)")
        if depth >= MAX_DEPTH:
            raise PickleRefused("bad_pkl", f"values nested more than {MAX_DEPTH} deep")
        pending += zip(children, repeat(depth + 1))


def load_pickle(path: Path | str, max_item_bytes: int = MAX_ITEM_BYTES) -> object:
    """Unpickle the regular file ``path`` (at most :data:`~samrs_hf.dataset.release.format.MAX_PKL_BYTES`)
    with :class:`SafeUnpickler`; a corrupt, unsafe or oversized file is a :class:`ReleaseFileError`
    (:class:`UnsafePickleError` for ``unsafe_pkl``) naming ``path``."""
    data = read_regular_file(Path(path), MAX_PKL_BYTES)
    try:
        return SafeUnpickler(data, max_item_bytes).load()
    except PickleRefused as refusal:
        if refusal.reason == "unsafe_pkl":
            raise UnsafePickleError(f"{path}: {refusal}") from None
        raise ReleaseFileError(refusal.reason, f"{path}: {refusal}") from None
    except Exception as error:  # a corrupt pickle fails with any of a dozen exception types
        raise ReleaseFileError(
            "bad_pkl", f"{path}: not a readable pickle ({type(error).__name__}: {clip(str(error))})"
        ) from None
