"""SkipInit: a context in which torch.nn.init's in-place initialisers leave tensors as allocated."""
from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["SkipInit"]


class SkipInit(TorchFunctionMode):
    """While active (and `enabled`), a call such as `torch.nn.init.kaiming_uniform_(w)` returns `w` untouched:
    building a large module whose weights a checkpoint will overwrite then costs no initialisation."""

    def __init__(self, enabled: bool = True) -> None:
        super().__init__()
        self.enabled = enabled

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if self.enabled and getattr(func, "__module__", None) == "torch.nn.init" and func.__name__.endswith("_"):
            return kwargs["tensor"] if "tensor" in kwargs else args[0]
        return func(*args, **kwargs)
