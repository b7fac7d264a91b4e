"""BatchSizeFinder: the batch-size search run when fit/validate/test/predict starts (Lightning's callback)."""
from __future__ import annotations

import warnings
from typing import Optional

from statetrainer.callbacks.callback import Callback
from statetrainer.errors import MisconfigurationError
from statetrainer.tuner import arguments as args
from statetrainer.tuner import attributes
from statetrainer.tuner.batch_trials import BatchSizeSettings, find_batch_size
from statetrainer.tuner.live import given_loaders, reload_loaders

__all__ = ["BatchSizeFinder"]

_KIND = {"fit": "train", "validate": "val", "test": "test", "predict": "predict"}


class BatchSizeFinder(Callback):
    """Runs `Tuner.scale_batch_size`'s search when the call starts, writes the size found to `batch_arg_name`
    (model, its hparams, the datamodule, its hparams) and has the call load its loaders with it.

    `optimal_batch_size` holds the size found (`init_val` before the search). The data must come from the
    module's or datamodule's *_dataloader hooks, which every trial calls again. To search at other points,
    subclass it, make `on_fit_start` do nothing and call `self.scale_batch_size(trainer, pl_module)` from
    another hook.
    """

    SUPPORTED_MODES = ("power", "binsearch")

    def __init__(self, mode: str = "power", steps_per_trial: int = 3, init_val: int = 2, max_trials: int = 25,
                 batch_arg_name: str = "batch_size", margin: float = 0.05, max_val: int = 8192) -> None:
        mode = args.check_choice("mode", mode, self.SUPPORTED_MODES)
        args.check_batch_settings(steps_per_trial, init_val, max_trials, batch_arg_name, margin, max_val)
        self.optimal_batch_size: Optional[int] = init_val
        # Lightning's attribute names: subclasses written for Lightning read them
        self._mode = mode
        self._steps_per_trial = steps_per_trial
        self._init_val = init_val
        self._max_trials = max_trials
        self._batch_arg_name = batch_arg_name
        self._margin = margin
        self._max_val = max_val
        self._early_exit = False

    def setup(self, trainer, pl_module, stage: Optional[str] = None) -> None:
        if trainer.world_size > 1:
            raise MisconfigurationError(f"BatchSizeFinder got a trainer with world_size={trainer.world_size}; "
                                        "accepted: a single-process trainer.")
        kind = _KIND.get(str(trainer.state.fn), "train")
        if kind in given_loaders(trainer):
            raise MisconfigurationError(
                f"BatchSizeFinder got {kind} dataloaders passed to `{trainer.state.fn}`; accepted: data from the "
                "module's or the datamodule's *_dataloader() hooks, which every trial calls again.")
        if not attributes.has(pl_module, self._batch_arg_name, trainer.datamodule):
            raise MisconfigurationError(
                f"BatchSizeFinder got batch_arg_name={self._batch_arg_name!r}, which is not an attribute of "
                f"the model, its hparams or the datamodule; accepted: one of "
                f"{attributes.describe(self._batch_arg_name)}.")

    def scale_batch_size(self, trainer, pl_module) -> None:
        """Search now (from a hook of a running call); the size goes to `optimal_batch_size`."""
        if trainer.fast_dev_run:
            warnings.warn("Skipping the batch size finder since `fast_dev_run` is enabled.", UserWarning,
                          stacklevel=2)
            return
        method = str(trainer.state.fn)
        settings = BatchSizeSettings(method if method in _KIND else "fit", self._mode, self._steps_per_trial,
                                     self._init_val, self._max_trials, self._batch_arg_name, self._margin,
                                     self._max_val)
        self.optimal_batch_size = find_batch_size(trainer, pl_module, trainer.datamodule, settings)
        reload_loaders(trainer)

    def on_fit_start(self, trainer, pl_module) -> None:
        self.scale_batch_size(trainer, pl_module)

    def on_validation_start(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or trainer.state.fn != "validate":
            return
        self.scale_batch_size(trainer, pl_module)

    def on_test_start(self, trainer, pl_module) -> None:
        self.scale_batch_size(trainer, pl_module)

    def on_predict_start(self, trainer, pl_module) -> None:
        self.scale_batch_size(trainer, pl_module)
