"""``import samrs_hf`` makes transformers' Auto classes know SEP models, without importing transformers itself.

Registering needs transformers and torch imported (about 4 s), which ``samrs --help`` or a
mistyped argument should not pay. So the registration runs as soon as transformers is imported
(at once when it already is): a finder put first on ``sys.meta_path`` wraps transformers' own
loader once, and removes itself.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import warnings
from collections.abc import Callable


def register_sep_model() -> None:
    """Register :class:`~samrs_hf.training.modeling.SepModel` with ``AutoConfig``, ``AutoModel`` and
    ``AutoModelForSemanticSegmentation``, and its image processor with ``AutoImageProcessor``."""
    from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForSemanticSegmentation

    from samrs_hf.training.image_processing import SepImageProcessor
    from samrs_hf.training.modeling import SepConfig, SepModel

    AutoConfig.register(SepConfig.model_type, SepConfig, exist_ok=True)
    AutoModel.register(SepConfig, SepModel, exist_ok=True)
    AutoModelForSemanticSegmentation.register(SepConfig, SepModel, exist_ok=True)
    AutoImageProcessor.register(SepConfig, image_processor_classes={"pil": SepImageProcessor}, exist_ok=True)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``callback`` right after the module ``name`` has been executed by its own loader."""

    def __init__(self, name: str, callback: Callable[[], None]):
        self.name, self.callback = name, callback

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            exec_module = spec.loader.exec_module

            def exec_then_call(module) -> None:
                exec_module(module)
                _call(self.callback)

            spec.loader.exec_module = exec_then_call
        return spec


def _call(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception as error:  # registering must never break the user's own import of transformers
        warnings.warn(
            f"samrs-hf could not register its SEP model with transformers' Auto classes: {error}", stacklevel=2
        )


def when_imported(name: str, callback: Callable[[], None]) -> None:
    """Call ``callback`` once the module ``name`` is imported (now, if it already is)."""
    if name in sys.modules:
        _call(callback)
    elif not any(isinstance(f, _AfterImport) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(name, callback))
