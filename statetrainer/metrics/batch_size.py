"""Inferring the batch size from a batch, as Lightning's `extract_batch_size` does.

The size is dim 0 of the first tensor found walking the batch (mappings by value, other
iterables in order, dataclass fields in order); a 0-d tensor counts as 1. When later tensors
disagree, the first size is kept and a warning suggests `self.log(..., batch_size=...)`.
"""
from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch

from statetrainer.errors import MisconfigurationError

__all__ = ["extract_batch_size"]

_HINT = "provide it as `self.log(..., batch_size=N)`"


def _sizes(batch: Any) -> Iterator[int | None]:
    if isinstance(batch, torch.Tensor):
        yield 1 if batch.ndim == 0 else batch.size(0)
    elif isinstance(batch, (Iterable, Mapping)) and not isinstance(batch, str):
        for item in (batch.values() if isinstance(batch, Mapping) else batch):
            yield from _sizes(item)
    elif dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        for field in dataclasses.fields(batch):
            yield from _sizes(getattr(batch, field.name))
    else:
        yield None


def extract_batch_size(batch: Any) -> int:
    """The batch size to weight epoch means with; MisconfigurationError when no tensor is found."""
    found: int | None = None
    try:
        for size in _sizes(batch):
            if found is None:
                found = size
            elif size != found:
                warnings.warn(f"The batch size inferred from an ambiguous batch is {found}; to avoid a wrong "
                              f"weighting {_HINT}.", UserWarning, stacklevel=2)
                break
    except RecursionError:
        raise MisconfigurationError(f"The batch size could not be inferred from a batch nested too deeply; {_HINT}.")
    if found is None:
        raise MisconfigurationError(
            f"The batch size could not be inferred from a batch of type {type(batch).__name__} (no tensor in it); "
            f"{_HINT}.")
    return found
