"""Moving a batch to a device: tensors nested in lists, tuples, dicts, namedtuples and dataclasses."""
from __future__ import annotations

import dataclasses
from typing import Any

import torch

__all__ = ["move_to_device"]


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Return `batch` with every tensor (and object with a `.to`) moved to `device`."""
    if isinstance(batch, torch.Tensor):
        if batch.device == device:
            return batch
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, (list, tuple)):
        moved = [move_to_device(item, device) for item in batch]
        if hasattr(batch, "_fields"):  # namedtuple
            return type(batch)(*moved)
        return type(batch)(moved) if isinstance(batch, list) or type(batch) is tuple else type(batch)(moved)
    if isinstance(batch, dict):
        return type(batch)((key, move_to_device(value, device)) for key, value in batch.items())
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        changes = {f.name: move_to_device(getattr(batch, f.name), device)
                   for f in dataclasses.fields(batch) if f.init}
        return dataclasses.replace(batch, **changes)
    to = getattr(batch, "to", None)
    if callable(to) and not isinstance(batch, type):
        try:
            return to(device)
        except TypeError:
            return batch
    return batch

