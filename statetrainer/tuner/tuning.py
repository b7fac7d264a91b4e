"""Tuner: Lightning 2.x's `Tuner(trainer).lr_find(...)` / `.scale_batch_size(...)`, and `trainer.tune()`.

Both finders run their trials through the real Trainer machinery on quiet trial trainers built from
the user's trainer's flags, and leave the model's weights, the optimizers, the RNG streams and the
trainer's counters as they found them (see statetrainer/tuner/scope.py and docs/tuner.md).
"""
from __future__ import annotations

import warnings
from typing import Any, Optional

from statetrainer.errors import MisconfigurationError, flag_error
from statetrainer.tuner import arguments as args
from statetrainer.tuner.batch_trials import BatchSizeSettings, find_batch_size
from statetrainer.tuner.live import show_loaders
from statetrainer.tuner.lr_finder import LRFinder
from statetrainer.tuner.lr_search import LRSearch, find_lr

__all__ = ["Tuner"]


class Tuner:
    """`Tuner(trainer)`: the learning-rate finder and the batch-size finder for `trainer`'s settings."""

    def __init__(self, trainer) -> None:
        if not (callable(getattr(trainer, "fit", None)) and hasattr(trainer, "_position")):
            raise flag_error("trainer", trainer, "a statetrainer.Trainer")
        self._trainer = trainer

    def lr_find(self, model, train_dataloaders=None, val_dataloaders=None, dataloaders=None, datamodule=None,
                method: str = "fit", min_lr: float = 1e-8, max_lr: float = 1, num_training: int = 100,
                mode: str = "exponential", early_stop_threshold: Optional[float] = 4.0, update_attr: bool = True,
                attr_name: str = "") -> Optional[LRFinder]:
        """Range test: `num_training` steps with the lr growing from `min_lr` to `max_lr` (exponentially or
        linearly), stopped when the smoothed loss exceeds `early_stop_threshold` x its best. Returns the
        LRFinder; with `update_attr` the suggestion is written to the model's lr attribute/hparam."""
        args.check_method(method, ("fit",))
        args.check_loaders(method, train_dataloaders, val_dataloaders, dataloaders)
        mode = args.check_choice("mode", mode, ("linear", "exponential"))
        args.check_lr_settings(min_lr, max_lr, num_training, early_stop_threshold, update_attr, attr_name)
        self._refuse_configured("LearningRateFinder", "lr_find")
        model, train, datamodule = self._inputs(model, train_dataloaders, datamodule)
        if self._skipped_by_fast_dev_run("learning rate finder"):
            return None
        search = LRSearch(min_lr, max_lr, num_training, mode, early_stop_threshold, update_attr, attr_name)
        return find_lr(self._trainer, model, train, val_dataloaders, datamodule, search)

    def scale_batch_size(self, model, train_dataloaders=None, val_dataloaders=None, dataloaders=None,
                         datamodule=None, method: str = "fit", mode: str = "power", steps_per_trial: int = 3,
                         init_val: int = 2, max_trials: int = 25, batch_arg_name: str = "batch_size",
                         margin: float = 0.05, max_val: int = 8192) -> Optional[int]:
        """Largest batch size that runs `steps_per_trial` steps without running out of memory: doubling from
        `init_val` ("power"), then bisecting after the first failure ("binsearch", minus `margin`). The size
        is written to the model's / datamodule's `batch_arg_name` and returned."""
        args.check_method(method)
        args.check_loaders(method, train_dataloaders, val_dataloaders, dataloaders)
        mode = args.check_choice("mode", mode, ("power", "binsearch"))
        args.check_batch_settings(steps_per_trial, init_val, max_trials, batch_arg_name, margin, max_val)
        self._refuse_configured("BatchSizeFinder", "scale_batch_size")
        model, train, datamodule = self._inputs(model, train_dataloaders, datamodule)
        given = [name for name, value in (("train_dataloaders", train), ("val_dataloaders", val_dataloaders),
                                          ("dataloaders", dataloaders)) if value is not None]
        if given:
            raise MisconfigurationError(
                f"scale_batch_size got `{given[0]}`; accepted: data from the model's or the datamodule's "
                "*_dataloader() hooks, which every trial calls again with the new batch size.")
        if self._trainer.world_size > 1:
            raise MisconfigurationError(f"scale_batch_size got a trainer with world_size={self._trainer.world_size}; "
                                        "accepted: a single-process trainer.")
        if self._skipped_by_fast_dev_run("batch size finder"):
            return None
        settings = BatchSizeSettings(method, mode, steps_per_trial, init_val, max_trials, batch_arg_name, margin,
                                     max_val)
        size = find_batch_size(self._trainer, model, datamodule, settings)
        show_loaders(self._trainer, model, datamodule, method)
        return size

    def tune_from_flags(self, model, train_dataloaders=None, val_dataloaders=None, datamodule=None,
                        scale_batch_size_kwargs: Optional[dict] = None, lr_find_kwargs: Optional[dict] = None,
                        **unknown: Any) -> dict:
        """`trainer.tune(...)`: the batch-size finder if `auto_scale_batch_size`, then the lr finder if
        `auto_lr_find` (Lightning 1.x's order). Returns {"scale_batch_size": size, "lr_find": LRFinder} with
        the keys of the finders that ran."""
        if unknown:
            raise MisconfigurationError(f"trainer.tune got unknown argument(s) {sorted(unknown)}; accepted: "
                                        "scale_batch_size_kwargs, lr_find_kwargs.")
        cfg = self._trainer._config
        args.check_tuner_flags(cfg.auto_lr_find, cfg.auto_scale_batch_size)
        result: dict[str, Any] = {}
        if cfg.auto_scale_batch_size:
            kwargs = dict(scale_batch_size_kwargs or {})
            if isinstance(cfg.auto_scale_batch_size, str):
                kwargs.setdefault("mode", cfg.auto_scale_batch_size)
            result["scale_batch_size"] = self.scale_batch_size(model, train_dataloaders, val_dataloaders,
                                                               datamodule=datamodule, **kwargs)
        if cfg.auto_lr_find:
            kwargs = dict(lr_find_kwargs or {})
            if isinstance(cfg.auto_lr_find, str):
                kwargs.setdefault("attr_name", cfg.auto_lr_find)
            result["lr_find"] = self.lr_find(model, train_dataloaders, val_dataloaders, datamodule=datamodule,
                                             **kwargs)
        if not result:
            warnings.warn("trainer.tune() ran nothing: `auto_lr_find` and `auto_scale_batch_size` are both off; "
                          "accepted: Trainer(auto_lr_find=True) and/or Trainer(auto_scale_batch_size='power'|"
                          "'binsearch'), or call st.Tuner(trainer).lr_find/scale_batch_size.", UserWarning,
                          stacklevel=3)
        return result

    # ---------------------------------------------------------------- shared checks
    def _inputs(self, model, train, datamodule):
        from statetrainer.module.module import StateModule
        from statetrainer.data.datamodule import split_datamodule
        if not isinstance(model, StateModule):
            raise flag_error("model", type(model).__name__, "a statetrainer.StateModule instance")
        train, datamodule = split_datamodule(train, datamodule, "train_dataloaders")
        return model, train, datamodule

    def _refuse_configured(self, name: str, method: str) -> None:
        """As Lightning: the finder runs either as the trainer's callback or through the Tuner, not both."""
        import statetrainer.callbacks as callbacks
        finder = getattr(callbacks, name)
        if any(isinstance(cb, finder) for cb in self._trainer.callbacks):
            raise MisconfigurationError(f"Tuner.{method} got a trainer that already has a {name} callback; "
                                        f"accepted: the callback (it runs when fit starts) or Tuner.{method}, "
                                        "not both.")

    def _skipped_by_fast_dev_run(self, what: str) -> bool:
        if self._trainer._config.fast_dev_run:
            warnings.warn(f"Skipping the {what} since `fast_dev_run` is enabled.", UserWarning, stacklevel=3)
            return True
        return False
