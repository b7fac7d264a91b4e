"""Parsing every documented return form of configure_optimizers."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from statetrainer.errors import MisconfigurationError, flag_error

__all__ = ["SchedulerConfig", "check_scheduler_api", "parse_optimizers"]

_FORMS = ("an Optimizer; a list/tuple of Optimizers; a tuple (optimizers, schedulers); a dict with keys "
          "'optimizer' and optional 'lr_scheduler'/'monitor'; or a list/tuple of such dicts")
_SCHED_KEYS = {"scheduler", "name", "interval", "frequency", "monitor", "strict", "reduce_on_plateau", "opt_idx"}
_AUTOMATIC_ONLY_KEYS = ("reduce_on_plateau", "monitor", "strict")   # the loop's own stepping rules


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
    # statetrainer's extra: the index of the scheduler's optimizer; not part of equality, so a config
    # compares equal to one built with Lightning's fields only
    opt_idx: Optional[int] = field(default=None, compare=False)


def _is_plateau(scheduler: Any) -> bool:
    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


def _known_keys(item: dict) -> dict:
    """The lr_scheduler dict without the keys no SchedulerConfig field reads (warned, then dropped)."""
    unknown = set(item) - _SCHED_KEYS
    if unknown:
        warnings.warn(f"Found unsupported keys in the lr scheduler dict: {unknown}; they are ignored "
                      f"(accepted: 'scheduler' plus any of {sorted(_SCHED_KEYS - {'scheduler'})}).",
                      RuntimeWarning, stacklevel=2)
    if "scheduler" not in item:
        raise MisconfigurationError(
            f"an lr_scheduler dict got keys {sorted(item)}; accepted: 'scheduler' plus any of "
            f"{sorted(_SCHED_KEYS - {'scheduler'})}.")
    return {k: v for k, v in item.items() if k in _SCHED_KEYS}


def _manual_fields(fields: dict) -> dict:
    """Manual optimization steps its schedulers itself: the keys that only drive the loop's stepping go."""
    ignored = [k for k in fields if k in _AUTOMATIC_ONLY_KEYS]
    if ignored:
        warnings.warn(f"the lr scheduler dict has the key(s) {ignored}, but the keys will be ignored with manual "
                      "optimization: call the scheduler's step() yourself.", RuntimeWarning, stacklevel=2)
    return {k: v for k, v in fields.items() if k not in _AUTOMATIC_ONLY_KEYS}


def _scheduler_config(item: Any, monitor: Optional[str], automatic: bool = True) -> SchedulerConfig:
    if isinstance(item, dict):
        fields = _known_keys(item)
        if not automatic:
            return _checked(SchedulerConfig(**_manual_fields(fields)), automatic)
        fields.setdefault("reduce_on_plateau", _is_plateau(item["scheduler"]))
        config = SchedulerConfig(**fields)
        if config.monitor is None:
            config.monitor = monitor
    elif automatic:
        config = SchedulerConfig(scheduler=item, reduce_on_plateau=_is_plateau(item), monitor=monitor)
    else:
        config = SchedulerConfig(scheduler=item)
    return _checked(config, automatic)


def _checked(config: SchedulerConfig, automatic: bool) -> SchedulerConfig:
    if config.interval not in ("epoch", "step"):
        raise flag_error("lr_scheduler 'interval'", config.interval, "'epoch' or 'step'")
    if not isinstance(config.frequency, int) or config.frequency < 1:
        raise flag_error("lr_scheduler 'frequency'", config.frequency, "a positive int")
    if automatic and config.reduce_on_plateau and config.monitor is None:
        raise MisconfigurationError(
            "a ReduceLROnPlateau scheduler got no 'monitor'; accepted: return "
            "{'optimizer': opt, 'lr_scheduler': {'scheduler': sched, 'monitor': 'metric_name'}}.")
    return config


def _from_dict(entry: dict, automatic: bool) -> tuple[list, list[SchedulerConfig]]:
    extra = set(entry) - {"optimizer", "lr_scheduler", "monitor"}
    if "optimizer" not in entry or extra:
        raise MisconfigurationError(
            f"configure_optimizers returned a dict with keys {sorted(entry)}; accepted: 'optimizer' "
            "and optional 'lr_scheduler', 'monitor'.")
    if entry.get("lr_scheduler") is None:
        return [entry["optimizer"]], []
    return [entry["optimizer"]], [_scheduler_config(entry["lr_scheduler"], entry.get("monitor"), automatic)]


def _collect(value: Any, automatic: bool) -> tuple[list, list]:
    if isinstance(value, torch.optim.Optimizer):
        return [value], []
    if isinstance(value, dict):
        return _from_dict(value, automatic)
    if isinstance(value, (list, tuple)):
        items = list(value)
        if len(items) == 2 and isinstance(items[0], (list, tuple)):
            scheds = items[1] if isinstance(items[1], (list, tuple)) else [items[1]]
            return list(items[0]), [_scheduler_config(s, None, automatic) for s in scheds]
        if items and all(isinstance(i, dict) for i in items):
            opts, scheds = [], []
            for idx, entry in enumerate(items):
                o, s = _from_dict(entry, automatic)
                opts += o
                for config in s:
                    config.opt_idx = idx
                scheds += s
            return opts, scheds
        if all(isinstance(i, torch.optim.Optimizer) for i in items):
            return items, []
    raise MisconfigurationError(f"configure_optimizers returned {value!r}; accepted: {_FORMS}.")


def _attach(configs: list[SchedulerConfig], optimizers: list) -> None:
    """Each scheduler steps one of the returned optimizers: refuse one built on another, note its index."""
    for config in configs:
        if not hasattr(config.scheduler, "optimizer"):
            continue   # a custom scheduler that does not say (its lr_scheduler_step decides)
        raw = config.scheduler.optimizer
        index = next((i for i, o in enumerate(optimizers) if o is raw), None)
        if index is None:
            raise MisconfigurationError(
                f"lr scheduler {type(config.scheduler).__name__} is attached with an optimizer that wasn't "
                "returned by configure_optimizers; accepted: schedulers built on the returned optimizers.")
        if config.opt_idx is None:
            config.opt_idx = index


def parse_optimizers(value: Any, automatic: bool) -> tuple[list, list[SchedulerConfig]]:
    """(optimizers, scheduler configs) from configure_optimizers' return value; None gives a NoOptimizer
    (with a warning), as in Lightning."""
    if value is None:
        from statetrainer.module.no_optimizer import NoOptimizer
        warnings.warn("configure_optimizers returned None, so this fit runs without an optimizer: training_step "
                      "and backward run, no weight changes.", UserWarning, stacklevel=2)
        return [NoOptimizer()], []
    optimizers, configs = _collect(value, automatic)
    for opt in optimizers:
        if not isinstance(opt, torch.optim.Optimizer):
            raise MisconfigurationError(f"configure_optimizers returned {opt!r} as an optimizer; accepted: {_FORMS}.")
    _attach(configs, optimizers)
    return optimizers, configs


def check_scheduler_api(configs: list[SchedulerConfig], steps_them: bool) -> None:
    """Every scheduler saves and restores its state; one the loop steps itself (`steps_them`: automatic
    optimization without a custom lr_scheduler_step) must also follow torch's LRScheduler interface."""
    plain = (torch.optim.lr_scheduler.LRScheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    for config in configs:
        scheduler, name = config.scheduler, type(config.scheduler).__name__
        if not all(callable(getattr(scheduler, m, None)) for m in ("state_dict", "load_state_dict")):
            raise TypeError(f"lr scheduler {name} has no state_dict/load_state_dict methods; accepted: a scheduler "
                            "that can save and restore its state (checkpoints hold it).")
        if steps_them and not isinstance(scheduler, plain):
            raise MisconfigurationError(
                f"lr scheduler {name} doesn't follow PyTorch's LRScheduler API; accepted: a torch.optim.lr_scheduler "
                "scheduler, or override `lr_scheduler_step` in the module to step it yourself.")
