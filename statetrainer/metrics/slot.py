"""One logged metric in one hook: its step value and its running epoch aggregate."""
from __future__ import annotations

import warnings
from typing import Any, Callable

import torch

from statetrainer.errors import MisconfigurationError
from statetrainer.metrics.options import LogOptions
from statetrainer.metrics.values import default_dtype

__all__ = ["MetricSlot"]

_START = {"max": float("-inf"), "min": float("inf"), "mean": 0.0, "sum": 0.0}

SyncFn = Callable[..., torch.Tensor]


class MetricSlot:
    """Accumulates the values logged under one (hook, name[, dataloader]) key.

    Tensors: `step_value` is the last value (synced when sync_dist); the epoch value is the
    batch-size-weighted mean, the sum, the max or the min of every value since the last reset.
    Metric objects: kept by reference; the step value is their `_forward_cache` (what their
    last forward() returned), the epoch value is `compute()`, and reset() is forwarded.
    """

    def __init__(self, options: LogOptions, is_tensor: bool, sync: SyncFn):
        self.options = options
        self.is_tensor = is_tensor
        self.has_reset = False
        self._sync = sync if options.sync_dist and not options.rank_zero_only else None
        # a tensor logged for the step only, unsynced: `take_step` may keep the value as logged
        self.step_only = is_tensor and options.on_step and not options.on_epoch and self._sync is None
        self.metric: Any = None
        self.step_value: torch.Tensor | None = None
        self._computed: torch.Tensor | None = None
        self._reset_tensors()

    def _reset_tensors(self) -> None:
        self.total = torch.tensor(_START[self.options.reduce], dtype=default_dtype())
        self.weight = torch.tensor(0)
        self.step_value = None
        self._computed = None

    def _synced(self, tensor: torch.Tensor) -> torch.Tensor:
        if self._sync is None:
            return tensor
        return self._sync(tensor.clone(), reduce_op=self.options.reduce, group=self.options.sync_dist_group)

    def update(self, value: Any, batch_size: int) -> None:
        """Take one logged value (a 0-d tensor or the metric object)."""
        self.has_reset = False
        self._computed = None
        if not self.is_tensor:
            self.metric = value
            self.step_value = getattr(value, "_forward_cache", None)
            return
        dtype = value.dtype
        if dtype is not torch.float32 and dtype is not torch.float64:
            value = self._as_float(value)
        if self.total.device != value.device:
            self.total, self.weight = self.total.to(value.device), self.weight.to(value.device)
        options = self.options
        if options.on_step:
            self.step_value = value if self._sync is None else self._synced(value)
            if not options.on_epoch:
                return
        reduce = self.options.reduce
        if reduce == "mean":
            self.total = self.total + value * batch_size
            self.weight = self.weight + batch_size
        elif reduce == "sum":
            self.total = self.total + value
        else:
            self.total = (torch.maximum if reduce == "max" else torch.minimum)(self.total, value)

    def take_step(self, value: torch.Tensor) -> None:
        """A step-only slot's new value, a 0-d float32/float64 tensor: kept as logged (graph and all) until
        read, when `value()` detaches it, so logging costs no tensor operation."""
        self.has_reset = False
        self.step_value = value

    def _as_float(self, value: torch.Tensor) -> torch.Tensor:
        if not torch.is_floating_point(value):
            warnings.warn(f"`self.log({self.options.name!r}, ...)` in `{self.options.fx}` got a {value.dtype} "
                          f"tensor; it is converted to {default_dtype()} to be reduced.", UserWarning, stacklevel=4)
        if value.dtype not in (torch.float32, torch.float64):
            value = value.to(default_dtype())
        return value

    def epoch_value(self) -> torch.Tensor:
        """The epoch aggregate (computed once per update, synced when sync_dist)."""
        if self._computed is None:
            self._computed = self._compute()
        return self._computed

    def _compute(self) -> torch.Tensor:
        if not self.is_tensor:
            result = self.metric.compute()
            if not isinstance(result, torch.Tensor):
                raise MisconfigurationError(
                    f"The metric object logged as {self.options.name!r} returned {type(result).__name__} from "
                    "compute(); accepted: a tensor.")
            return result
        total = self._synced(self.total)
        if self.options.reduce == "mean":
            return total / self._synced(self.weight)
        return total

    def value(self, on_step: bool) -> torch.Tensor | None:
        """The value to show now: the step value while in a batch loop, else the epoch value."""
        if on_step:
            cache = self.step_value if self.options.on_step else None
        else:
            cache = self.epoch_value() if self.options.on_epoch else None
        if cache is not None and not self.options.enable_graph:
            cache = cache.detach()
        return cache

    def reset(self) -> None:
        """Forget the accumulated values (metric objects: call their reset())."""
        if self.is_tensor:
            self._reset_tensors()
        else:
            self.metric.reset()
            self._computed = None
        self.has_reset = True

    def to_cpu(self) -> None:
        if self.is_tensor:
            self.total, self.weight = self.total.cpu(), self.weight.cpu()

    def state_dict(self) -> dict[str, Any]:
        """The running aggregate as plain data (tensor slots only: a metric object keeps its own state)."""
        return {"total": self.total.detach().cpu(), "weight": self.weight.cpu(), "has_reset": self.has_reset,
                "step_value": None if self.step_value is None else self.step_value.detach().cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.total, self.weight = state["total"], state["weight"]
        self.has_reset = bool(state["has_reset"])
        self.step_value = state["step_value"]
        self._computed = None
