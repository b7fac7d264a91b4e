"""The text of `str(datamodule)`: one line per loader hook with the size of each loader's dataset."""
from __future__ import annotations

import os
from collections.abc import Sized
from typing import Any

from torch.utils.data import DataLoader

__all__ = ["loaders_summary"]

_HOOKS = (("Train dataloader", "train_dataloader"), ("Validation dataloader", "val_dataloader"),
          ("Test dataloader", "test_dataloader"), ("Predict dataloader", "predict_dataloader"))


def _size(loader: Any) -> str:
    if not isinstance(loader, DataLoader):
        return "None"
    dataset = loader.dataset
    return f"size={len(dataset) if isinstance(dataset, Sized) else 'NA'}"


def _describe(loaders: Any) -> str:
    """`size=N` for one loader; `1. size=N ; 2. size=M` for a list/tuple/dict of them."""
    if isinstance(loaders, dict):
        loaders = list(loaders.values())
    if isinstance(loaders, (list, tuple)):
        return " ; ".join(f"{i}. {_size(dl)}" if isinstance(dl, DataLoader) else "None"
                          for i, dl in enumerate(loaders, start=1))
    return _size(loaders)


def loaders_summary(datamodule: Any) -> str:
    """Calls each *_dataloader hook (as Lightning does); a hook that raises, e.g. before `setup`, shows None."""
    lines = []
    for label, hook in _HOOKS:
        try:
            text = _describe(getattr(datamodule, hook)())
        except Exception:  # noqa: BLE001 - not set up yet / not defined: no loader to describe
            text = "None"
        lines.append(f"{{{label}: {text}}}")
    return os.linesep.join(lines)
