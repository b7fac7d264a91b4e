"""ModuleRanges: a torch.profiler range around every submodule's forward, named after the submodule.

Used by the PyTorchProfiler (``record_module_names=True``) so that the trace and the table show
``[st][module]torch.nn.modules.linear.Linear: encoder.0`` around the operators of that layer.
"""
from __future__ import annotations

from typing import Any

from torch import nn
from torch.autograd.profiler import record_function

__all__ = ["ModuleRanges", "MODULE_PREFIX"]

MODULE_PREFIX = "[st][module]"


class ModuleRanges:
    """``with ModuleRanges(model): model(x)``: each named submodule's forward is one labelled range."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._open: dict[str, list[record_function]] = {}
        self._handles: list[Any] = []

    def __enter__(self) -> "ModuleRanges":
        for name, submodule in self.model.named_modules():
            if not name:
                continue
            label = f"{MODULE_PREFIX}{type(submodule).__module__}.{type(submodule).__name__}: {name}"
            self._handles.append(submodule.register_forward_pre_hook(self._opener(label)))
            self._handles.append(submodule.register_forward_hook(self._closer(label)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        for ranges in self._open.values():
            while ranges:
                ranges.pop().__exit__(None, None, None)
        self._open.clear()

    def _opener(self, label: str):
        def open_range(module: nn.Module, args: Any) -> None:
            scope = record_function(label)
            scope.__enter__()
            self._open.setdefault(label, []).append(scope)
        return open_range

    def _closer(self, label: str):
        def close_range(module: nn.Module, args: Any, output: Any) -> None:
            ranges = self._open.get(label)
            if ranges:
                ranges.pop().__exit__(None, None, None)
        return close_range
