"""NoOptimizer: what a fit runs with when configure_optimizers returns None (as Lightning does)."""
from __future__ import annotations

from typing import Any, Callable, Optional

import torch

__all__ = ["NoOptimizer"]


class NoOptimizer(torch.optim.Optimizer):
    """An optimizer over nothing (no parameter groups): `step` only runs the closure (training_step and backward still happen),
    `zero_grad` does nothing, and its state is empty."""

    def __init__(self) -> None:
        super().__init__([torch.zeros(1)], {})

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        return None  # no parameter groups, not even the placeholder torch's constructor asks for

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        return closure() if closure is not None else None

    def zero_grad(self, set_to_none: bool = True) -> None:
        return None

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        return None

    def __repr__(self) -> str:
        return "NoOptimizer()"
