"""LearningRateMonitor: log each optimizer's learning rate (and optionally momentum, weight decay).

Names follow Lightning: ``lr-<OptimizerClass>``, ``-1``, ``-2``... for further optimizers of the
same class, ``/pg1``, ``/pg2``... (or the group's ``"name"``) when an optimizer has several
parameter groups; a scheduler config's ``name`` replaces ``lr-<OptimizerClass>``. Values go to
every logger through ``log_metrics`` at the training step count, and into
``trainer.callback_metrics`` so a checkpoint or early stopping can monitor them.
"""
from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import torch

from statetrainer.callbacks.callback import Callback
from statetrainer.errors import MisconfigurationError, flag_error

__all__ = ["LearningRateMonitor"]


class LearningRateMonitor(Callback):
    """Log learning rates while training.

    Args:
        logging_interval: "step" or "epoch" logs every optimizer at that interval; None (default)
            logs each scheduler's optimizer at the scheduler's own interval, and optimizers without
            a scheduler at both.
        log_momentum: also log ``<name>-momentum`` (``betas[0]`` for Adam-like optimizers, 0 when
            the optimizer has no momentum).
        log_weight_decay: also log ``<name>-weight_decay``.
    """

    def __init__(self, logging_interval: str | None = None, log_momentum: bool = False,
                 log_weight_decay: bool = False) -> None:
        if logging_interval not in (None, "step", "epoch"):
            raise flag_error("logging_interval", logging_interval, '"step", "epoch" or None')
        self.logging_interval = logging_interval
        self.log_momentum = log_momentum
        self.log_weight_decay = log_weight_decay
        self.lrs: dict[str, list[float]] = {}
        self.last_momentum_values: dict[str, float | None] = {}
        self.last_weight_decay_values: dict[str, float | None] = {}

    # ------------------------------------------------------------------ hooks
    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.loggers:
            raise MisconfigurationError("LearningRateMonitor got a Trainer without loggers; accepted: a Trainer "
                                        "with logger=True, a Logger or a list of Loggers.")
        if self.log_momentum and any(not _has_momentum(opt) for opt, _ in self._named(trainer)):
            warnings.warn("LearningRateMonitor(log_momentum=True): some optimizers have no momentum; "
                          "0 is logged for them.", RuntimeWarning, stacklevel=2)
        names = [name for _, group_names in self._named(trainer) for name in group_names]
        self.lrs = {name: [] for name in names}
        self.last_momentum_values = {f"{name}-momentum": None for name in names}
        self.last_weight_decay_values = {f"{name}-weight_decay": None for name in names}

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if self.logging_interval != "epoch" and _should_log(trainer):
            self._log(trainer, "step" if self.logging_interval is None else "any")

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if self.logging_interval != "step":
            self._log(trainer, "epoch" if self.logging_interval is None else "any")

    # ------------------------------------------------------------------ values
    def _log(self, trainer: Any, interval: str) -> None:
        stats: dict[str, float] = {}
        for optimizer, names, own_interval in self._named(trainer, with_interval=True):
            if own_interval is None or interval in (own_interval, "any"):
                stats.update(self._optimizer_stats(optimizer, names))
        if not stats:
            return
        trainer.callback_metrics.update({name: torch.tensor(value) for name, value in stats.items()})
        step = _log_step(trainer)
        for logger in trainer.loggers:
            logger.log_metrics(stats, step=step)

    def _optimizer_stats(self, optimizer: torch.optim.Optimizer, names: list[str]) -> dict[str, float]:
        stats = {}
        betas = "betas" in optimizer.defaults
        for group, name in zip(optimizer.param_groups, names):
            stats[name] = group["lr"]
            self.lrs.setdefault(name, []).append(group["lr"])
            if self.log_momentum:
                momentum = group["betas"][0] if betas else group.get("momentum", 0)
                stats[f"{name}-momentum"] = self.last_momentum_values[f"{name}-momentum"] = momentum
            if self.log_weight_decay:
                decay = group["weight_decay"]
                stats[f"{name}-weight_decay"] = self.last_weight_decay_values[f"{name}-weight_decay"] = decay
        return stats

    # ------------------------------------------------------------------ names
    def _named(self, trainer: Any, with_interval: bool = False) -> list[tuple]:
        """(optimizer, one name per param group[, interval or None]): scheduled optimizers first."""
        seen: list[torch.optim.Optimizer] = []
        classes: Counter = Counter()
        named = []
        for config in trainer.lr_scheduler_configs:
            optimizer = config.scheduler.optimizer
            if config.name is None:
                classes[type(optimizer)] += 1
            base = config.name if config.name is not None else f"lr-{type(optimizer).__name__}"
            named.append((optimizer, self._group_names(optimizer, base, classes), config.interval))
            seen.append(optimizer)
        for optimizer in trainer.optimizers:
            optimizer = getattr(optimizer, "optimizer", optimizer)
            if any(optimizer is other for other in seen):
                continue
            classes[type(optimizer)] += 1
            named.append((optimizer, self._group_names(optimizer, f"lr-{type(optimizer).__name__}", classes), None))
            seen.append(optimizer)
        return named if with_interval else [(optimizer, names) for optimizer, names, _ in named]

    @staticmethod
    def _group_names(optimizer: torch.optim.Optimizer, base: str, classes: Counter) -> list[str]:
        count = classes.get(type(optimizer), 0)
        if count > 1:
            base = f"{base}-{count - 1}"
        groups = optimizer.param_groups
        labels = [group.get("name", f"pg{i}") for i, group in enumerate(groups, start=1)]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise MisconfigurationError(f"optimizer {base!r} has parameter groups named {duplicates} more than once; "
                                        "accepted: a distinct `name` per parameter group.")
        if len(groups) > 1:
            return [f"{base}/{label}" for label in labels]
        return [f"{base}/{groups[0]['name']}" if groups[0].get("name") else base]


def _has_momentum(optimizer: torch.optim.Optimizer) -> bool:
    return "momentum" in optimizer.defaults or "betas" in optimizer.defaults


def _log_step(trainer: Any) -> int:
    book = getattr(trainer, "_metrics", None)
    return getattr(book, "batches_that_stepped", trainer.global_step)


def _should_log(trainer: Any) -> bool:
    every = trainer.log_every_n_steps
    if not every:
        return False
    return (_log_step(trainer) + 1) % every == 0 or bool(trainer.should_stop)
