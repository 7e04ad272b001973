"""Safe unpickling of the release's ``ins/*.pkl``: builtins containers and numpy arrays and scalars only."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from samrs_hf.dataset.release.format import ReleaseFileError


class UnsafePickleError(ReleaseFileError):
    """A pickle that refers to something besides builtins containers and numpy arrays/scalars."""

    def __init__(self, message: str):
        super().__init__("unsafe_pkl", message)


_NUMPY_CORE = "numpy._core" if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else "numpy.core"
_BUILTINS = ("bytearray", "bytes", "complex", "frozenset", "set")
SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {(module, name) for module in ("builtins", "__builtin__") for name in _BUILTINS}
    | {("_codecs", "encode"), ("numpy", "dtype"), ("numpy", "ndarray")}
    | {(f"{core}.multiarray", name) for core in ("numpy.core", "numpy._core") for name in ("_reconstruct", "scalar")}
    | {(f"{core}.numeric", "_frombuffer") for core in ("numpy.core", "numpy._core")}
)  # fmt: skip
"""The only globals a release pkl may name: what pickle protocols 0-5 write for lists and dicts of
str, numbers and numpy arrays and scalars, under numpy 1.x (``numpy.core``) and 2.x (``numpy._core``).
Arrays: ``multiarray._reconstruct`` + ``ndarray`` + ``dtype`` (protocols 0-4) or ``numeric._frombuffer``
(protocol 5); scalars: ``multiarray.scalar`` + ``dtype``; ``_codecs.encode`` rebuilds bytes in
protocols 0-2; sets, bytes, bytearrays and complex numbers are rebuilt by their builtins."""


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that admits only :data:`SAFE_GLOBALS`; anything else raises :class:`UnsafePickleError`
    before it is imported, so nothing in the file runs. numpy names of either major version are
    resolved in the installed numpy."""

    def __init__(self, file, path: Path | str):
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) not in SAFE_GLOBALS:
            raise UnsafePickleError(
                f"{self.path}: refused to unpickle {module}.{name}: a release pkl holds only lists, dicts, strings, "
                "numbers and numpy arrays, so this file is not one and may be unsafe (nothing in it was run)"
            )
        if module.startswith(("numpy.core.", "numpy._core.")):
            module = f"{_NUMPY_CORE}.{module.rsplit('.', 1)[1]}"
        return super().find_class(module, name)


def load_pickle(path: Path) -> object:
    """Unpickle ``path`` with :class:`SafeUnpickler`; a corrupt or unsafe file is a :class:`ReleaseFileError`."""
    with open(path, "rb") as file:
        try:
            return SafeUnpickler(file, path).load()
        except UnsafePickleError:
            raise
        except Exception as error:  # a corrupt pickle fails with any of a dozen exception types
            raise ReleaseFileError(
                "bad_pkl", f"{path}: not a readable pickle ({type(error).__name__}: {error})"
            ) from None
