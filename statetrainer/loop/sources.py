"""Where each stage's dataloaders come from: an argument, the datamodule, or the module's hook; and
whether what came is something the loop can iterate."""
from __future__ import annotations

import warnings
from typing import Any

from statetrainer.errors import MisconfigurationError
from statetrainer.utilities.combined_loader import CombinedLoader

__all__ = ["DataSources", "warn_unused_validation"]

_HOOK = {"train": "train_dataloader", "val": "val_dataloader", "test": "test_dataloader",
         "predict": "predict_dataloader"}
_ARGUMENT = {"train": "train_dataloaders", "val": "val_dataloaders (fit) / dataloaders (validate)",
             "test": "dataloaders", "predict": "dataloaders"}


def _overrides(obj: Any, hook: str) -> bool:
    from statetrainer.data.datamodule import DataModule
    from statetrainer.module.hooks import HookStubs
    from statetrainer.module.hook_lookup import overrides
    return overrides(obj, DataModule if isinstance(obj, DataModule) else HookStubs, hook)


def _check_iterable(loader: Any, origin: str) -> None:
    """A TypeError naming where `loader` came from when it cannot be iterated."""
    from torch.utils.data import DataLoader
    if isinstance(loader, DataLoader):
        return
    try:
        iter(loader)
    except TypeError:
        raise TypeError(f"{origin} got {loader!r} ({type(loader).__name__}); accepted: a DataLoader or any "
                        "iterable of batches, or a list/dict/tuple of them, or a CombinedLoader.") from None


class DataSources:
    """Resolves loaders lazily, when the loop first needs them (Lightning calls the hooks then too)."""

    def __init__(self, module, datamodule, dispatch, **explicit: Any):
        self.module = module
        self.datamodule = datamodule
        self.dispatch = dispatch
        self.explicit = {kind: value for kind, value in explicit.items() if value is not None}

    def is_defined(self, kind: str) -> bool:
        hook = _HOOK[kind]
        return kind in self.explicit or (self.datamodule is not None and _overrides(self.datamodule, hook)) or \
            _overrides(self.module, hook)

    def load(self, kind: str) -> Any:
        """What the source gives for `kind`, as given: one loader, a list/dict/tuple of loaders (nested
        or not), or a CombinedLoader; every loader in it is checked to be iterable."""
        hook = _HOOK[kind]
        if kind in self.explicit:
            value, origin = self.explicit[kind], f"`{_ARGUMENT[kind]}`"
        elif self.datamodule is not None and _overrides(self.datamodule, hook):
            value, origin = getattr(self.datamodule, hook)(), f"`{type(self.datamodule).__name__}.{hook}()`"
        elif _overrides(self.module, hook):
            value = self.dispatch.call_module(hook) if self.dispatch is not None else getattr(self.module, hook)()
            origin = f"`{type(self.module).__name__}.{hook}()`"
        else:
            raise MisconfigurationError(
                f"no {kind} data: pass `{'train_dataloaders' if kind == 'train' else kind + '_dataloaders'}`, a "
                f"datamodule with `{hook}`, or define `{hook}` on the module.")
        parts = value.flattened if isinstance(value, CombinedLoader) else CombinedLoader(value).flattened
        for part in parts:
            _check_iterable(part, origin)
        return value


def warn_unused_validation(sources: DataSources, module) -> None:
    """fit: one warning when validation data is given without a validation_step, or the reverse (as
    Lightning); validation is skipped in both cases."""
    from statetrainer.module.hook_lookup import overrides
    from statetrainer.module.hooks import HookStubs
    has_step = overrides(module, HookStubs, "validation_step")  # also `model.validation_step = None`
    has_data = sources.is_defined("val")
    if has_data and not has_step:
        warnings.warn(f"validation data was given but {type(module).__name__} defines no `validation_step`: "
                      "the validation loop is skipped.", UserWarning, stacklevel=5)
    elif has_step and not has_data:
        warnings.warn(f"{type(module).__name__} defines `validation_step` but no validation data was given "
                      "(`val_dataloaders`, a datamodule's or the module's `val_dataloader`): the validation loop "
                      "is skipped.", UserWarning, stacklevel=5)
