"""StepOptimizer: the optimizer object hooks and `self.optimizers()` hand out.

It behaves as the wrapped torch optimizer (attribute access is delegated) but its `step` goes
through the trainer, so that the before-step hooks, clipping, precision scaling and the
global_step counter happen as in Lightning.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

__all__ = ["StepOptimizer"]


class StepOptimizer:
    """A torch optimizer seen through the trainer's stepping rules."""

    def __init__(self, optimizer: torch.optim.Optimizer, stepper: Callable[..., Any]):
        self.__dict__["_optimizer"] = optimizer
        self.__dict__["_stepper"] = stepper
        # isinstance(opt, type(raw_optimizer)) keeps working, as with Lightning's wrapper
        object.__setattr__(self, "__class__",
                           type(f"Step{type(optimizer).__name__}", (StepOptimizer, type(optimizer)), {}))

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self._optimizer

    def __getattr__(self, name: str) -> Any:
        try:
            optimizer = self.__dict__["_optimizer"]
        except KeyError:  # a copy being rebuilt (copy.deepcopy) has no optimizer yet
            raise AttributeError(name) from None
        return getattr(optimizer, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._optimizer, name, value)

    def __getstate__(self) -> dict:
        return dict(self.__dict__)

    def __setstate__(self, state: dict) -> None:
        """A copy gets the wrapped optimizer and the stepper back (not torch's optimizer state rules)."""
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"StepOptimizer({self._optimizer!r})"

    def step(self, closure: Callable[[], Any] | None = None, **kwargs: Any) -> Any:
        """Step through the trainer: closure, before-step hooks, clipping, scaling, step count."""
        return self._stepper(self._optimizer, closure, kwargs)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self._optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return self._optimizer.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self._optimizer.load_state_dict(state_dict)
