"""Optimizer and scheduler options: their types, building them from a config, and the
``configure_optimizers`` the CLI gives a model when ``--optimizer`` / ``--lr_scheduler`` are used."""
from __future__ import annotations

import importlib
from typing import Any, Callable, Iterable, Optional, Union

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from statetrainer.cli.reduce_lr_on_plateau import ReduceLROnPlateau

__all__ = ["LR_SCHEDULER_TYPES", "LRSchedulerTypeUnion", "OptimizerCallable", "LRSchedulerCallable",
           "instantiate_class", "with_class_path", "as_init", "default_configure_optimizers", "automatic_keys",
           "module_overrides"]

# the scheduler base classes the CLI accepts: torch's own ReduceLROnPlateau lacks `monitor`
LR_SCHEDULER_TYPES = (LRScheduler, ReduceLROnPlateau)
LRSchedulerTypeUnion = Union[LRScheduler, ReduceLROnPlateau]
OptimizerCallable = Callable[[Iterable], Optimizer]
LRSchedulerCallable = Callable[[Optimizer], LRSchedulerTypeUnion]


def instantiate_class(args: Any, init: dict) -> Any:
    """Build ``init["class_path"]`` with the positional `args` (one value or a tuple) and ``init["init_args"]``."""
    module_name, _, class_name = init["class_path"].rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    positional = args if isinstance(args, tuple) else (args,)
    return cls(*positional, **dict(init.get("init_args") or {}))


def with_class_path(cls: type, init_args: Any) -> dict:
    """``{"class_path": "module.Name", "init_args": {...}}`` for a group added with one fixed class."""
    if hasattr(init_args, "as_dict"):
        init_args = init_args.as_dict()
    return {"class_path": f"{cls.__module__}.{cls.__name__}", "init_args": dict(init_args or {})}


def as_init(value: Any, registered: Any) -> Optional[dict]:
    """A parsed optimizer/scheduler group as a class_path/init_args dict; None when not given."""
    if value is None:
        return None
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(registered, tuple):
        return value or None
    return with_class_path(registered, value)


def default_configure_optimizers(optimizer: Optimizer, lr_scheduler: Any = None) -> Any:
    """What the CLI's configure_optimizers returns: the optimizer, with its scheduler when one is given."""
    if lr_scheduler is None:
        return optimizer
    if isinstance(lr_scheduler, ReduceLROnPlateau):
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": lr_scheduler, "monitor": lr_scheduler.monitor}}
    return [optimizer], [lr_scheduler]


def automatic_keys(register: dict, base: Any) -> list[str]:
    """The keys of groups added with ``link_to="AUTOMATIC"`` whose classes are `base` subclasses."""
    keys = []
    for key, (classes, link_to) in register.items():
        classes = classes if isinstance(classes, tuple) else (classes,)
        if link_to == "AUTOMATIC" and any(issubclass(cls, base) for cls in classes):
            keys.append(key)
    return keys


def module_overrides(model: Any, name: str) -> bool:
    """Whether `model`'s class defines `name` below StateModule."""
    from statetrainer.module.module import StateModule
    return getattr(type(model), name, None) is not getattr(StateModule, name, None)

