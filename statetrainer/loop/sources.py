"""Where each stage's dataloaders come from: an argument, the datamodule, or the module's hook."""
from __future__ import annotations

from typing import Any

from statetrainer.errors import MisconfigurationError
from statetrainer.loop.data import as_loader_list

__all__ = ["DataSources"]

_HOOK = {"train": "train_dataloader", "val": "val_dataloader", "test": "test_dataloader",
         "predict": "predict_dataloader"}


def _overrides(obj: Any, hook: str) -> bool:
    from statetrainer.data.datamodule import DataModule
    from statetrainer.module.hooks import HookStubs
    from statetrainer.module.hook_lookup import overrides
    return overrides(obj, DataModule if isinstance(obj, DataModule) else HookStubs, hook)


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

    def load(self, kind: str) -> list:
        """The loaders for `kind` (train: a list of one)."""
        hook = _HOOK[kind]
        if kind in self.explicit:
            value = self.explicit[kind]
        elif self.datamodule is not None and _overrides(self.datamodule, hook):
            value = getattr(self.datamodule, hook)()
        elif _overrides(self.module, hook):
            value = self.dispatch.call_module(hook)
        else:
            raise MisconfigurationError(
                f"no {kind} data: pass `{'train_dataloaders' if kind == 'train' else kind + '_dataloaders'}`, a "
                f"datamodule with `{hook}`, or define `{hook}` on the module.")
        loaders = as_loader_list(value, kind)
        if kind == "train" and len(loaders) != 1:
            raise MisconfigurationError(
                f"train_dataloaders got {len(loaders)} loaders; accepted: exactly one iterable of batches "
                "(combine several into one dataset or loader).")
        return loaders
