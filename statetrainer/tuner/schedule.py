"""The learning-rate schedule of the range test (the same values Lightning's finder tries)."""
from __future__ import annotations

import torch

__all__ = ["RangeTestLR", "range_test_lr"]


def range_test_lr(start: float, end: float, num_iter: int, steps_taken: int, mode: str) -> float:
    """The lr after `steps_taken` scheduler steps: `start` before the first step, then the point
    (steps_taken + 1) / num_iter of the way from `start` to `end` (geometrically for "exponential").

    The first step therefore jumps to 2/num_iter of the way and the last of num_iter lrs is `end`,
    exactly as in Lightning's finder (its schedulers skip the 1/num_iter point).
    """
    if steps_taken <= 0:
        return start
    fraction = (steps_taken + 1) / num_iter
    if mode == "linear":
        return start + fraction * (end - start)
    return start * (end / start) ** fraction


class RangeTestLR(torch.optim.lr_scheduler.LRScheduler):
    """A step-interval scheduler walking every param group from its initial lr to `end_lr`."""

    def __init__(self, optimizer: torch.optim.Optimizer, end_lr: float, num_iter: int, mode: str = "exponential"):
        self.end_lr = end_lr
        self.num_iter = num_iter
        self.mode = mode
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        return [range_test_lr(base, self.end_lr, self.num_iter, self.last_epoch, self.mode) for base in self.base_lrs]
