"""LearningRateFinder: the learning-rate range test run from `on_fit_start` (Lightning's callback)."""
from __future__ import annotations

import warnings
from typing import Optional

from statetrainer.callbacks.callback import Callback
from statetrainer.tuner import arguments as args
from statetrainer.tuner.live import given_loaders
from statetrainer.tuner.lr_finder import LRFinder
from statetrainer.tuner.lr_search import LRSearch, find_lr

__all__ = ["LearningRateFinder"]


class LearningRateFinder(Callback):
    """Runs `Tuner.lr_find`'s range test when fit starts, on the data that fit was given, then leaves the model,
    its optimizer states and the random state as they were; with `update_attr` the suggestion goes to the
    model's `lr` / `learning_rate` (or `attr_name`) and to the optimizers fit goes on with.

    `optimal_lr` holds the LRFinder (`.results`, `.suggestion()`, `.plot()`). To search at other points,
    subclass it, make `on_fit_start` do nothing and call `self.lr_find(trainer, pl_module)` from another hook
    (e.g. `on_train_epoch_start`).
    """

    SUPPORTED_MODES = ("linear", "exponential")

    def __init__(self, min_lr: float = 1e-8, max_lr: float = 1, num_training_steps: int = 100,
                 mode: str = "exponential", early_stop_threshold: Optional[float] = 4.0, update_attr: bool = True,
                 attr_name: str = "") -> None:
        mode = args.check_choice("mode", mode, self.SUPPORTED_MODES)
        args.check_lr_settings(min_lr, max_lr, num_training_steps, early_stop_threshold, update_attr, attr_name)
        # Lightning's attribute names: subclasses written for Lightning read them
        self._min_lr = min_lr
        self._max_lr = max_lr
        self._num_training_steps = num_training_steps
        self._mode = mode
        self._early_stop_threshold = early_stop_threshold
        self._update_attr = update_attr
        self._attr_name = attr_name
        self._early_exit = False
        self.optimal_lr: Optional[LRFinder] = None

    def lr_find(self, trainer, pl_module) -> None:
        """Run the range test now (from any hook of a running fit); the result goes to `optimal_lr`."""
        if trainer.fast_dev_run:
            warnings.warn("Skipping the learning rate finder since `fast_dev_run` is enabled.", UserWarning,
                          stacklevel=2)
            return
        search = LRSearch(self._min_lr, self._max_lr, self._num_training_steps, self._mode,
                          self._early_stop_threshold, self._update_attr, self._attr_name)
        given = given_loaders(trainer)
        self.optimal_lr = find_lr(trainer, pl_module, given.get("train"), given.get("val"), trainer.datamodule,
                                  search)

    def on_fit_start(self, trainer, pl_module) -> None:
        self.lr_find(trainer, pl_module)
