"""Trial trainers: the user's flags, quiet, with the tuner's callbacks, run through the real machine."""
from __future__ import annotations

from typing import Any

from statetrainer.states import TrainerFn
from statetrainer.trainer.state import TrainerState

__all__ = ["TuningState", "trial_trainer", "run_trial"]

# a trial writes nothing and shows nothing; the user's callbacks and timers stay out of it
_QUIET = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
              profiler=None, max_time=None, num_sanity_val_steps=0, auto_lr_find=False,
              auto_scale_batch_size=False)


class TuningState(TrainerState):
    """`trainer.state` of a trial trainer: `fn` reads "tune" whatever the trial runs."""

    @property
    def fn(self) -> TrainerFn:
        return TrainerFn.TUNING

    @fn.setter
    def fn(self, value: Any) -> None:  # the runner sets fit/validate/...; a trial stays "tune"
        pass


def trial_trainer(trainer, callbacks: list, **overrides: Any):
    """A fresh Trainer with `trainer`'s flags, no logger/checkpoint/progress bar/summary/timer/profiler,
    no sanity check, only `callbacks`, and `overrides` (max_steps, limit_*_batches...)."""
    from statetrainer.trainer.flags import DEFAULTS
    cfg = trainer._config
    flags = {name: cfg.raw[name] for name in DEFAULTS}
    flags.update(_QUIET, max_epochs=cfg.max_epochs, callbacks=list(callbacks))
    flags.update(overrides)
    trial = _library_trainer_class(trainer)(**flags)
    trial.state = TuningState(lambda: trial._machine)
    return trial


def _library_trainer_class(trainer) -> type:
    """statetrainer's Trainer class, found on the trainer itself (a user subclass may need other
    arguments), so that the tuner does not import the trainer package that imports it."""
    return next(cls for cls in type(trainer).__mro__ if cls.__module__ == "statetrainer.trainer.trainer")


def run_trial(trial, method: str, model, train=None, val=None, datamodule=None) -> None:
    """One trial call; a Ctrl-C the trial absorbed is raised again, so tuning stops there too."""
    if method == "fit":
        trial.fit(model, train, val, datamodule=datamodule)
    elif method == "validate":
        trial.validate(model, val, verbose=False, datamodule=datamodule)
    elif method == "test":
        trial.test(model, val, verbose=False, datamodule=datamodule)
    else:
        trial.predict(model, val, datamodule=datamodule, return_predictions=False)
    if trial.interrupted:
        raise KeyboardInterrupt(f"tuning was interrupted during a {method} trial")
