"""Import every built-in class a config may name, so short names (``ModelCheckpoint``) resolve.

jsonargparse resolves a short ``class_path`` among the subclasses that are already imported;
statetrainer loads its callbacks and loggers lazily, so the CLI imports them before parsing.
"""
from __future__ import annotations

import importlib

__all__ = ["import_known_classes"]

PACKAGES = ("statetrainer.callbacks", "statetrainer.loggers", "statetrainer.profilers", "statetrainer.plugins",
            "statetrainer.strategies", "statetrainer.accelerators", "torch.optim", "torch.optim.lr_scheduler")


def import_known_classes() -> None:
    """Touch every public name of the packages above (each one imports its module)."""
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in getattr(module, "__all__", ()):
            getattr(module, name, None)
