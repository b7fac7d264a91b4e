"""What `self.log` accepts as a value, and its conversion to a 0-d tensor."""
from __future__ import annotations

import numbers
from typing import Any

import torch

from statetrainer.errors import MisconfigurationError

__all__ = ["is_metric_object", "to_loggable", "default_dtype"]

_ACCEPTED = "a Python number, a single-element tensor, or a metric object with update/compute/reset"


def default_dtype() -> torch.dtype:
    """torch's default float dtype, but never below float32 (accumulation keeps precision)."""
    dtype = torch.get_default_dtype()
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def is_metric_object(value: Any) -> bool:
    """A torchmetrics-like object: logged by reference, compute() at epoch end, reset() after."""
    return not isinstance(value, torch.Tensor) and all(
        callable(getattr(value, attr, None)) for attr in ("update", "compute", "reset"))


def to_loggable(name: str, value: Any, device: torch.device | str | None = None) -> Any:
    """Return a detached 0-d tensor (numbers, tensors) or the metric object itself; refuse anything else."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise MisconfigurationError(
                f"`self.log({name!r}, value)` got a tensor of shape {tuple(value.shape)}; accepted: {_ACCEPTED} "
                f"(reduce it first, e.g. `value.mean()`).")
        return value.detach().clone().squeeze()
    if isinstance(value, numbers.Number) and not isinstance(value, complex):
        return torch.tensor(value, device=device, dtype=default_dtype())
    if is_metric_object(value):
        return value
    raise MisconfigurationError(f"`self.log({name!r}, value)` got a {type(value).__name__} ({value!r:.60}); "
                                f"accepted: {_ACCEPTED}.")
