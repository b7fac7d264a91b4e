"""Strategy base and SingleDeviceStrategy (one process, one device)."""
from __future__ import annotations

from typing import Any

import torch

__all__ = ["Strategy", "SingleDeviceStrategy"]


class Strategy:
    """One process's view of the run: its device, ranks, and the collective operations."""

    global_rank = 0
    local_rank = 0
    node_rank = 0
    world_size = 1

    def __init__(self, device: torch.device | str | None = None):
        self.root_device = torch.device(device) if device is not None else torch.device("cpu")

    @property
    def is_global_zero(self) -> bool:
        return self.global_rank == 0

    def model_to_device(self, module: torch.nn.Module) -> torch.nn.Module:
        return module.to(self.root_device)

    def barrier(self, name: str | None = None) -> None:
        """Wait for every process (nothing to wait for in one process)."""

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        return obj

    def reduce(self, tensor: Any, op: str = "mean") -> Any:
        return tensor

    def reduce_boolean_decision(self, decision: bool, all: bool = True) -> bool:
        return decision

    def all_gather(self, data: Any, group: Any = None, sync_grads: bool = False) -> Any:
        return data

    def teardown(self) -> None:
        """Release what setup took."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={self.root_device})"


class SingleDeviceStrategy(Strategy):
    """Everything in this process, on one device."""
