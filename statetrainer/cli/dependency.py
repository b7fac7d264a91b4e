"""The one place that imports jsonargparse, so a missing extra gives one clear message."""
from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["jsonargparse", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "statetrainer[cli]"'


def jsonargparse() -> ModuleType:
    """The jsonargparse module, or an ImportError that says how to install it."""
    try:
        module = importlib.import_module("jsonargparse")
        importlib.import_module("docstring_parser")
    except ImportError as error:
        raise ImportError(f"statetrainer.cli needs jsonargparse with its signatures extra, which is not "
                          f"installed ({error}); install it with: {INSTALL_HINT}") from error
    return module
