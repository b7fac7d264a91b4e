"""Parsing every documented return form of configure_optimizers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch

from statetrainer.errors import MisconfigurationError, flag_error

__all__ = ["SchedulerConfig", "parse_optimizers"]

_FORMS = ("an Optimizer; a list/tuple of Optimizers; a tuple (optimizers, schedulers); a dict with keys "
          "'optimizer' and optional 'lr_scheduler'/'monitor'; or a list/tuple of such dicts")
_SCHED_KEYS = {"scheduler", "name", "interval", "frequency", "monitor", "strict", "reduce_on_plateau", "opt_idx"}


@dataclass
class SchedulerConfig:
    """One scheduler with Lightning's settings (interval 'epoch'/'step', frequency, monitor...)."""

    scheduler: Any
    name: Optional[str] = None
    interval: str = "epoch"
    frequency: int = 1
    reduce_on_plateau: bool = False
    monitor: Optional[str] = None
    strict: bool = True
    opt_idx: Optional[int] = None


def _is_plateau(scheduler: Any) -> bool:
    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


def _scheduler_config(item: Any, monitor: Optional[str]) -> SchedulerConfig:
    if isinstance(item, dict):
        unknown = set(item) - _SCHED_KEYS
        if "scheduler" not in item or unknown:
            raise MisconfigurationError(
                f"an lr_scheduler dict got keys {sorted(item)}; accepted: 'scheduler' plus any of "
                f"{sorted(_SCHED_KEYS - {'scheduler'})}.")
        fields = dict(item)
        fields.setdefault("reduce_on_plateau", _is_plateau(item["scheduler"]))
        config = SchedulerConfig(**fields)
        if config.monitor is None:
            config.monitor = monitor
    else:
        config = SchedulerConfig(scheduler=item, reduce_on_plateau=_is_plateau(item), monitor=monitor)
    if config.interval not in ("epoch", "step"):
        raise flag_error("lr_scheduler 'interval'", config.interval, "'epoch' or 'step'")
    if not isinstance(config.frequency, int) or config.frequency < 1:
        raise flag_error("lr_scheduler 'frequency'", config.frequency, "a positive int")
    if config.reduce_on_plateau and config.monitor is None:
        raise MisconfigurationError(
            "a ReduceLROnPlateau scheduler got no 'monitor'; accepted: return "
            "{'optimizer': opt, 'lr_scheduler': {'scheduler': sched, 'monitor': 'metric_name'}}.")
    return config


def _from_dict(entry: dict) -> tuple[list, list[SchedulerConfig]]:
    extra = set(entry) - {"optimizer", "lr_scheduler", "monitor"}
    if "optimizer" not in entry or extra:
        raise MisconfigurationError(
            f"configure_optimizers returned a dict with keys {sorted(entry)}; accepted: 'optimizer' "
            "and optional 'lr_scheduler', 'monitor'.")
    scheds = [] if entry.get("lr_scheduler") is None else [_scheduler_config(entry["lr_scheduler"], entry.get("monitor"))]
    return [entry["optimizer"]], scheds


def _collect(value: Any) -> tuple[list, list]:
    if isinstance(value, torch.optim.Optimizer):
        return [value], []
    if isinstance(value, dict):
        return _from_dict(value)
    if isinstance(value, (list, tuple)):
        items = list(value)
        if len(items) == 2 and isinstance(items[0], (list, tuple)):
            scheds = items[1] if isinstance(items[1], (list, tuple)) else [items[1]]
            return list(items[0]), [_scheduler_config(s, None) for s in scheds]
        if items and all(isinstance(i, dict) for i in items):
            opts, scheds = [], []
            for idx, entry in enumerate(items):
                o, s = _from_dict(entry)
                opts += o
                for config in s:
                    config.opt_idx = idx
                scheds += s
            return opts, scheds
        if all(isinstance(i, torch.optim.Optimizer) for i in items):
            return items, []
    raise MisconfigurationError(f"configure_optimizers returned {value!r}; accepted: {_FORMS}.")


def parse_optimizers(value: Any, automatic: bool) -> tuple[list, list[SchedulerConfig]]:
    """(optimizers, scheduler configs) from configure_optimizers' return value; None gives a NoOptimizer
    (with a warning), as in Lightning."""
    if value is None:
        import warnings
        from statetrainer.module.no_optimizer import NoOptimizer
        warnings.warn("configure_optimizers returned None, so this fit runs without an optimizer: training_step "
                      "and backward run, no weight changes.", UserWarning, stacklevel=2)
        return [NoOptimizer()], []
    optimizers, configs = _collect(value)
    for opt in optimizers:
        if not isinstance(opt, torch.optim.Optimizer):
            raise MisconfigurationError(f"configure_optimizers returned {opt!r} as an optimizer; accepted: {_FORMS}.")
    for config in configs:
        if config.opt_idx is None:
            raw = getattr(config.scheduler, "optimizer", None)
            config.opt_idx = next((i for i, o in enumerate(optimizers) if o is raw), 0)
    return optimizers, configs
