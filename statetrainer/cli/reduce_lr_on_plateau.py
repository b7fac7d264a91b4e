"""ReduceLROnPlateau that also names the metric it watches, so a config file can set both."""
from __future__ import annotations

from typing import Any

import torch

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
    """torch's ReduceLROnPlateau plus ``monitor``: the logged metric the trainer passes to ``step``.

    ``--lr_scheduler ReduceLROnPlateau --lr_scheduler.monitor val_loss`` on the command line; the
    CLI returns it from ``configure_optimizers`` with ``"monitor": monitor``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, monitor: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(optimizer, *args, **kwargs)
        self.monitor = monitor
