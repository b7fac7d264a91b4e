"""GradientAccumulationScheduler: change ``accumulate_grad_batches`` by epoch, e.g. ``{0: 8, 4: 4, 8: 1}``.

Epochs are zero-indexed: ``{4: 2}`` accumulates 2 batches from the fifth epoch on (1 before it).
At each training epoch start it sets ``trainer.accumulate_grad_batches``, which the training
loop reads for that epoch. Not for manual optimization, and not together with the Trainer's own
``accumulate_grad_batches`` flag set to something other than 1.
"""
from __future__ import annotations

import warnings
from typing import Any

from statetrainer.callbacks.callback import Callback
from statetrainer.errors import MisconfigurationError, flag_error

__all__ = ["GradientAccumulationScheduler"]


class GradientAccumulationScheduler(Callback):
    """Accumulate ``scheduling[e]`` batches per optimizer step from epoch ``e`` on."""

    def __init__(self, scheduling: dict[int, int]) -> None:
        if not isinstance(scheduling, dict) or not scheduling:
            raise flag_error("GradientAccumulationScheduler(scheduling)", scheduling,
                             "a non-empty dict {epoch (int >= 0): factor (int >= 1)}")
        if any(not _is_int(epoch) or epoch < 0 for epoch in scheduling):
            raise flag_error("GradientAccumulationScheduler(scheduling)", scheduling,
                             "epochs (keys) that are ints >= 0")
        if any(not _is_int(factor) or factor < 1 for factor in scheduling.values()):
            raise flag_error("GradientAccumulationScheduler(scheduling)", scheduling,
                             "accumulation factors (values) that are ints >= 1")
        self.scheduling = dict(scheduling)
        self.scheduling.setdefault(0, 1)
        self.epochs = sorted(self.scheduling)
        self._applied: dict[int, int] | None = None   # the schedule this callback last gave a trainer

    def going_to_accumulate_grad_batches(self) -> bool:
        return any(factor > 1 for factor in self.scheduling.values())

    def get_accumulate_grad_batches(self, epoch: int) -> int:
        """The factor in force at `epoch` (the entry with the largest start <= epoch)."""
        factor = 1
        for start in self.epochs:
            if epoch >= start:
                factor = self.scheduling[start]
        return factor

    def on_train_start(self, trainer, pl_module) -> None:
        if not pl_module.automatic_optimization:
            raise MisconfigurationError(
                "`GradientAccumulationScheduler` got a module with automatic_optimization=False; accepted: "
                "automatic optimization only (accumulate by hand in training_step instead).")
        if _flag_factor(trainer, self.scheduling, self._applied) != 1:
            raise MisconfigurationError(
                f"`accumulate_grad_batches` got {trainer.accumulate_grad_batches} together with a "
                "GradientAccumulationScheduler; accepted: one of the two, not both.")
        overridden = [name for name in ("optimizer_step", "optimizer_zero_grad") if _overrides(pl_module, name)]
        if overridden and self.going_to_accumulate_grad_batches():
            warnings.warn(f"With gradient accumulation, the overridden {' and '.join(overridden)} run once per "
                          "optimizer step, not once per batch.", UserWarning)
        # the documented request: the whole schedule, so that an epoch resumed half-way (which runs no
        # on_train_epoch_start) accumulates as the schedule says
        trainer.accumulate_grad_batches = dict(self.scheduling)
        self._applied = dict(self.scheduling)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        trainer.accumulate_grad_batches = self.get_accumulate_grad_batches(trainer.current_epoch)


def _flag_factor(trainer, scheduling: dict, applied: dict | None) -> int:
    """The Trainer's own accumulate_grad_batches: 1 when its schedule is the default, the one this callback
    gave it in an earlier call, or a several-epoch flag the trainer built this callback from; an int flag
    other than 1 always counts (even when it equals the callback's single factor)."""
    schedule = getattr(trainer, "accumulation_schedule", None)
    if isinstance(schedule, dict):
        if schedule in ({0: 1}, applied) or (len(schedule) > 1 and schedule == scheduling):
            return 1
        return max(schedule.values())
    return getattr(trainer, "accumulate_grad_batches", 1)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _overrides(module: Any, name: str) -> bool:
    from statetrainer.module.hook_lookup import overrides
    from statetrainer.module.hooks import HookStubs
    return overrides(module, HookStubs, name)
