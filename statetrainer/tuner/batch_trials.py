"""The batch-size finder: trials of a few steps on trial trainers, a size written before each one."""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any, Optional

from statetrainer.errors import MisconfigurationError
from statetrainer.tuner import attributes
from statetrainer.tuner.batch_search import BatchSizeSearch
from statetrainer.tuner.oom import free_memory, is_out_of_memory
from statetrainer.tuner.scope import TuningScope
from statetrainer.tuner.trial import run_trial, trial_trainer

__all__ = ["BatchSizeSettings", "find_batch_size"]

log = logging.getLogger(__name__)
_KIND = {"fit": "train", "validate": "val", "test": "test", "predict": "predict"}


@dataclass
class BatchSizeSettings:
    """The scale_batch_size settings after checking."""

    method: str = "fit"
    mode: str = "power"
    steps_per_trial: int = 3
    init_val: int = 2
    max_trials: int = 25
    batch_arg_name: str = "batch_size"
    margin: float = 0.05
    max_val: int = 8192


def _limits(method: str, steps: int) -> dict:
    """Lightning's trial limits: fit runs `steps` optimizer steps over full epochs (validation capped at
    `steps` batches); validate/test/predict run `steps` batches."""
    if method == "fit":
        return dict(max_steps=steps, limit_train_batches=1.0, limit_val_batches=steps)
    return {f"limit_{_KIND[method]}_batches": steps}


def _loaders(trial, method: str) -> list:
    loaders: Any = trial.train_dataloader if method == "fit" else {
        "validate": trial.val_dataloaders, "test": trial.test_dataloaders,
        "predict": trial.predict_dataloaders}[method]
    if loaders is None:
        return []
    return list(loaders) if isinstance(loaders, (list, tuple)) else [loaders]


def _dataset_size(loaders: list) -> Optional[int]:
    sizes = []
    for loader in loaders:
        try:
            sizes.append(len(loader.dataset))
        except (AttributeError, TypeError, NotImplementedError):  # iterable-style data has no length
            continue
    return max(sizes) if sizes else None


def _summary(exc: BaseException) -> BaseException:
    """The error without its traceback (whose frames would keep the failed trial's tensors alive)."""
    return type(exc)(*exc.args) if isinstance(exc, MemoryError) else RuntimeError(str(exc))


class _Trials:
    """attempt(size): write the size, run one trial, report whether it fitted in memory."""

    def __init__(self, trainer, model, datamodule, settings: BatchSizeSettings, scope: TuningScope) -> None:
        self.trainer, self.model, self.datamodule = trainer, model, datamodule
        self.settings, self.scope = settings, scope
        self.size: Optional[int] = None

    def attempt(self, size: int) -> bool:
        s = self.settings
        attributes.write(self.model, s.batch_arg_name, size, self.datamodule)
        trial = trial_trainer(self.trainer, [self.scope.keeper], **_limits(s.method, s.steps_per_trial))
        failure = None
        try:
            run_trial(trial, s.method, self.model, datamodule=self.datamodule)
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
            failure = _summary(exc)
        self._note_data(trial)
        log.info("Batch size %d %s", size, "succeeded" if failure is None else "failed with an out-of-memory error")
        del trial
        free_memory(failure)
        return failure is None

    def _note_data(self, trial) -> None:
        loaders = _loaders(trial, self.settings.method)
        if self.settings.method != "fit" and len(loaders) > 1:
            raise MisconfigurationError(
                f"scale_batch_size(method={self.settings.method!r}) found {len(loaders)} dataloaders; accepted: "
                "exactly one, since every trial changes its batch size.")
        if loaders:
            self.size = _dataset_size(loaders)


def _warn_if_twice(model, name: str) -> None:
    """Lightning warns when the model has both `name` and `hparams.name`: two sources for one setting."""
    if hasattr(model, name) and name in (getattr(model, "hparams", None) or {}):
        warnings.warn(f"`model.{name}` and `model.hparams.{name}` both exist; the batch-size finder writes its "
                      f"result to both. Keep one of them.", UserWarning, stacklevel=4)


def find_batch_size(trainer, model, datamodule, settings: BatchSizeSettings) -> int:
    """Search, restore everything the trials changed, and leave the found size in the model/datamodule."""
    name = settings.batch_arg_name
    if not attributes.has(model, name, datamodule):
        raise MisconfigurationError(f"`batch_arg_name` got {name!r}, which is not an attribute of the model, its "
                                    f"hparams or the datamodule; accepted: one of {attributes.describe(name)}.")
    _warn_if_twice(model, name)
    original = attributes.read(model, name, datamodule)
    try:
        with TuningScope(trainer, model, datamodule) as scope:
            trials = _Trials(trainer, model, datamodule, settings, scope)
            search = BatchSizeSearch(trials.attempt, settings.mode, settings.max_trials, settings.margin,
                                     settings.max_val, dataset_size=lambda: trials.size)
            size = search.run(settings.init_val)
    except BaseException:
        attributes.write(model, name, original, datamodule)  # a failed search leaves the user's size
        raise
    attributes.write(model, name, size, datamodule)
    log.info("Finished batch size finder, will continue with full run using batch size %d", size)
    return size
