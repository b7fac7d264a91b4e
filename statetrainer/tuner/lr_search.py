"""The learning-rate range test: one quiet trial fit whose lr grows every step, loss recorded, stopped
when the smoothed loss diverges."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Optional

import torch

from statetrainer.callbacks.callback import Callback
from statetrainer.errors import MisconfigurationError
from statetrainer.module.optim_config import SchedulerConfig
from statetrainer.tuner import attributes
from statetrainer.tuner.lr_finder import LRFinder
from statetrainer.tuner.schedule import RangeTestLR
from statetrainer.tuner.scope import TuningScope
from statetrainer.tuner.trial import run_trial, trial_trainer

__all__ = ["LRSearch", "RangeTest", "find_lr", "lr_attr_name"]

log = logging.getLogger(__name__)
_LR_NAMES = ("lr", "learning_rate")


@dataclass
class LRSearch:
    """The lr_find settings after checking."""

    min_lr: float = 1e-8
    max_lr: float = 1.0
    num_training: int = 100
    mode: str = "exponential"
    early_stop_threshold: Optional[float] = 4.0
    update_attr: bool = True
    attr_name: str = ""


class RangeTest(Callback):
    """Inside the trial fit: swaps in the range-test schedule, records lr before and smoothed loss after
    every optimizer step, and requests a stop (`trainer.should_stop`) when the loss diverges."""

    def __init__(self, search: LRSearch, beta: float = 0.98) -> None:
        self.search = search
        self.beta = beta
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.avg_loss = 0.0
        self.best_loss = 0.0
        self.scheduler: Optional[RangeTestLR] = None

    def on_fit_start(self, trainer, pl_module) -> None:
        optimizers = trainer.optimizers
        if len(optimizers) != 1:
            raise MisconfigurationError(f"lr_find got a model whose configure_optimizers returned {len(optimizers)} "
                                        "optimizers; accepted: exactly one optimizer.")
        optimizer = optimizers[0]
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] = self.search.min_lr
        self.scheduler = RangeTestLR(optimizer, self.search.max_lr, self.search.num_training, self.search.mode)
        # the module's own schedulers stand aside; this one steps after every optimizer step
        trainer.lr_scheduler_configs = [SchedulerConfig(self.scheduler, interval="step")]

    def on_train_batch_start(self, trainer, pl_module, batch: Any, batch_idx: int) -> None:
        if (batch_idx + 1) % trainer.accumulate_grad_batches == 0:
            self.lrs.append(self.scheduler.get_last_lr()[0])

    def on_train_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int) -> None:
        if (batch_idx + 1) % trainer.accumulate_grad_batches != 0:
            return
        loss = outputs if isinstance(outputs, torch.Tensor) else (outputs or {}).get("loss")
        if loss is None:  # training_step skipped: keep lrs and losses aligned, the suggestion ignores NaN
            self.losses.append(float("nan"))
            return
        self.losses.append(self._smoothed(float(loss.item()), trainer))

    def _smoothed(self, loss: float, trainer) -> float:
        """Bias-corrected running average of the loss; a stop request when it exceeds threshold x best."""
        step = trainer.global_step
        self.avg_loss = self.beta * self.avg_loss + (1 - self.beta) * loss
        smoothed = self.avg_loss / (1 - self.beta ** (step + 1))
        threshold = self.search.early_stop_threshold
        if threshold is not None and step > 1 and smoothed > threshold * self.best_loss:
            trainer.should_stop = True
        if smoothed < self.best_loss or step == 1:
            self.best_loss = smoothed
        return smoothed


def lr_attr_name(model, datamodule, attr_name: str) -> str:
    """The attribute the suggestion goes to: `attr_name`, else the first of lr / learning_rate found."""
    if attr_name:
        if not attributes.has(model, attr_name, datamodule):
            raise MisconfigurationError(
                f"`attr_name` got {attr_name!r}, which is not an attribute of the model, its hparams or the "
                f"datamodule; accepted: one of {attributes.describe(attr_name)}.")
        return attr_name
    for name in _LR_NAMES:
        if attributes.has(model, name, datamodule):
            return name
    raise MisconfigurationError("lr_find(update_attr=True) found neither `lr` nor `learning_rate` on the model, its "
                                "hparams or the datamodule; accepted: define one of them, pass attr_name=..., or "
                                "update_attr=False.")


def find_lr(trainer, model, train=None, val=None, datamodule=None, search: Optional[LRSearch] = None) -> LRFinder:
    """Run the range test on a trial trainer, restore everything, then write the suggestion if asked."""
    search = search or LRSearch()
    attr = lr_attr_name(model, datamodule, search.attr_name) if search.update_attr else None
    finder = LRFinder(search.mode, search.min_lr, search.max_lr, search.num_training)
    test = RangeTest(search)
    with TuningScope(trainer, model, datamodule) as scope:
        trial = trial_trainer(trainer, [scope.keeper, test], max_steps=search.num_training,
                              limit_val_batches=search.num_training)
        run_trial(trial, "fit", model, train, val, datamodule)
        trainer._dataloaders.clear()  # the trainer shows the loaders of the range test's fit (as Lightning)
        trainer._dataloaders.update(trial._dataloaders)
        if trial.global_step != search.num_training:
            log.info("LR finder stopped early after %d steps due to diverging loss.", trial.global_step)
        finder._total_batch_idx = trial._position.total_batch_idx
    finder.results = {"lr": test.lrs, "loss": test.losses}
    if attr is not None:
        _apply(trainer, model, datamodule, attr, finder.suggestion())
    return finder


def _apply(trainer, model, datamodule, attr: str, lr: Optional[float]) -> None:
    """The suggestion goes to the lr attribute/hparam and, as in Lightning 2.6, to the optimizers of the trainer's
    running call (a LearningRateFinder callback's fit goes on with it)."""
    if lr is None or not math.isfinite(lr):
        return
    attributes.write(model, attr, lr, datamodule)
    for optimizer in trainer.optimizers:
        for group in optimizer.param_groups:
            group["lr"] = lr
    log.info("Learning rate set to %s", lr)
