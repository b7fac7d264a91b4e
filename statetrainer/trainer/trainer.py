"""Trainer: Lightning's Trainer surface over the loop machine."""
from __future__ import annotations

import contextlib
import functools
import os
from typing import Any, Callable, Iterator, Optional

from statetrainer.data.datamodule import split_datamodule
from statetrainer.errors import MisconfigurationError
from statetrainer.loop import setup as setup_actions
from statetrainer.loop.context import LoopContext
from statetrainer.loop.optim_step import Accumulation
from statetrainer.loop.position import Position
from statetrainer.loop.stopping import StopRules
from statetrainer.machine.guards import GUARDS
from statetrainer.machine.machine import LoopMachine
from statetrainer.metrics import MetricBook
from statetrainer.plugins.precision import make_precision, precision_for_device
from statetrainer.signals import HookSignal, by_name
from statetrainer.trainer import building, properties, running
from statetrainer.trainer.env_defaults import with_env_defaults
from statetrainer.trainer.flags import parse_flags
from statetrainer.trainer.state import TrainerState

__all__ = ["Trainer"]


def _root_dir(value) -> str:
    """default_root_dir as Lightning reads it: `~` expanded and normalised for a local path, a URL kept as
    given, the working directory when unset."""
    if not value:
        return os.getcwd()
    path = os.fspath(value)
    return path if "://" in path else os.path.normpath(os.path.expanduser(path))


class Trainer(properties.TrainerProperties):
    """`Trainer(**flags).fit(model, ...)`, as in Lightning; see docs/ for the machine underneath."""

    def __init__(self, **flags: Any) -> None:
        cfg = self._config = parse_flags(**with_env_defaults(type(self), flags))
        self.checkpoint_io, environment = building.build_plugins(cfg)
        self.accelerator, self.strategy = building.build_strategy(cfg, self.checkpoint_io, environment)
        self.cluster_environment = building.cluster_environment_of(self.strategy, environment)
        cfg.precision = precision_for_device(cfg.precision, self.strategy.root_device.type)
        building.apply_torch_flags(cfg)
        self._default_root_dir = _root_dir(cfg.default_root_dir)
        self.callbacks: list = building.build_callbacks(cfg)
        self.callbacks = setup_actions.attach_model_callbacks(self.callbacks, [])
        self._loggers = building.build_loggers(cfg, self._default_root_dir)
        if cfg.fast_dev_run and self._loggers:  # as Lightning: logger callbacks keep working, nothing is written
            from statetrainer.loggers.logger import DummyLogger
            self._loggers = [DummyLogger()]
        self.profiler = building.build_profiler(cfg)
        self._accumulation = Accumulation(cfg.accumulate)
        self._position = Position(self._accumulation.factor)
        self._stop = StopRules(self._position, cfg.max_epochs, cfg.max_steps, cfg.min_epochs, cfg.min_steps)
        self._ctx = LoopContext(self._position, self._stop, functools.partial(getattr, self, "strategy"))
        guards = {name: functools.partial(guard, self._ctx) for name, guard in GUARDS.items()}
        self._machine = LoopMachine(guards, self._position)
        self.state = TrainerState(functools.partial(getattr, self, "_machine"))
        self._metrics = MetricBook(cfg.log_every_n_steps, functools.partial(getattr, self, "_loggers"),
                                   fast_dev_run=bool(cfg.fast_dev_run), barebones=cfg.barebones,
                                   stop_rules=self._stop, device=self.strategy.root_device)
        self._session = None
        self._dataloaders: dict = {}   # the loaders the last call loaded, by kind (what the *_dataloader(s) properties show)
        self._module = None
        self._datamodule = None
        self._interrupted = False
        self._ckpt_path = None
        self.gradient_clip_val = cfg.gradient_clip_val
        self.gradient_clip_algorithm = cfg.gradient_clip_algorithm

    def __getstate__(self) -> dict:
        """A pickle or deep copy holds the flags, the parts and where the loops are, not the last call's
        session (its loaders, iterators and listeners belong to that call)."""
        state = dict(self.__dict__)
        state["_session"] = None
        return state

    # ---------------------------------------------------------------- entry points
    def fit(self, model, train_dataloaders=None, val_dataloaders=None, datamodule=None, ckpt_path=None,
            weights_only: Optional[bool] = None) -> None:
        """Train `model`; returns when a stop rule ends training (see `state.stop_reason`).
        `weights_only=False` is the explicit opt-in to unpickle a checkpoint that needs it."""
        train, datamodule = split_datamodule(train_dataloaders, datamodule, "train_dataloaders")
        running.run(self, "fit", model, datamodule, ckpt_path, weights_only=weights_only, train=train,
                    val=val_dataloaders)

    def validate(self, model=None, dataloaders=None, ckpt_path=None, verbose: bool = True, datamodule=None,
                 weights_only: Optional[bool] = None):
        """One pass over the validation data; a list with one metrics dict per dataloader."""
        dataloaders, datamodule = split_datamodule(dataloaders, datamodule, "dataloaders")
        return running.run(self, "validate", model, datamodule, ckpt_path, verbose=verbose,
                           weights_only=weights_only, val=dataloaders)

    def test(self, model=None, dataloaders=None, ckpt_path=None, verbose: bool = True, datamodule=None,
             weights_only: Optional[bool] = None):
        """One pass over the test data; a list with one metrics dict per dataloader."""
        dataloaders, datamodule = split_datamodule(dataloaders, datamodule, "dataloaders")
        return running.run(self, "test", model, datamodule, ckpt_path, verbose=verbose, weights_only=weights_only,
                           test=dataloaders)

    def predict(self, model=None, dataloaders=None, datamodule=None, return_predictions: Optional[bool] = None,
                ckpt_path=None, weights_only: Optional[bool] = None):
        """predict_step over the predict data; the outputs (a list per dataloader when several)."""
        dataloaders, datamodule = split_datamodule(dataloaders, datamodule, "dataloaders")
        keep = True if return_predictions is None else bool(return_predictions)
        return running.run(self, "predict", model, datamodule, ckpt_path, return_predictions=keep,
                           weights_only=weights_only, predict=dataloaders)

    def tune(self, model, train_dataloaders=None, val_dataloaders=None, datamodule=None, **kwargs: Any):
        """Run the learning-rate and/or batch-size finders the flags ask for (see statetrainer.Tuner)."""
        from statetrainer.tuner.tuning import Tuner
        return Tuner(self).tune_from_flags(model, train_dataloaders, val_dataloaders, datamodule, **kwargs)

    def save_checkpoint(self, filepath, weights_only: bool = False, storage_options: Any = None) -> None:
        """Write a checkpoint atomically (global rank 0 only)."""
        if self._module is None:
            raise MisconfigurationError("save_checkpoint needs a model: call it after fit/validate/test/predict "
                                        "was given one.")
        from statetrainer.checkpoint import content
        content.save(self._session, self.checkpoint_io, filepath, weights_only)

    # ---------------------------------------------------------------- signals
    def on(self, signal: HookSignal | str, every: int | None = None, once: bool = False) -> Callable:
        """Decorator: connect a receiver to `signal` for this trainer only, optionally filtered."""
        sig = by_name(signal) if isinstance(signal, str) else signal
        return running.connect_filtered(self, sig, every, once)

    def trace(self, **options: Any):
        """Context manager printing/recording every signal this trainer sends (state, signal, epoch,
        step); options as SignalTracer's. `with trainer.trace() as tracer: trainer.fit(...)`."""
        from statetrainer.callbacks.tracer import SignalTracer
        return SignalTracer(**options).watching(self)

    @contextlib.contextmanager
    def init_module(self, empty_init: Optional[bool] = None) -> Iterator[None]:
        """Modules built inside are created on the strategy's device and, for a "*-true" precision, in its
        dtype; `empty_init=True` also skips their weight initialisation (for weights a checkpoint replaces)."""
        precision = make_precision(self._config.precision, self.strategy.root_device.type)
        with self.strategy.tensor_init_context(empty_init=empty_init), precision.tensor_init_context():
            yield

    def print(self, *args: Any, **kwargs: Any) -> None:
        """print() on global rank 0 only, above the progress bar while one is on screen."""
        if self.is_global_zero:
            from statetrainer.console import CONSOLE
            CONSOLE.print(*args, **kwargs)

    # ---------------------------------------------------------------- argparse
    @classmethod
    def add_argparse_args(cls, parent_parser, **kwargs: Any):
        from statetrainer.trainer.args import add_argparse_args
        return add_argparse_args(parent_parser, **kwargs)

    @classmethod
    def from_argparse_args(cls, args, **overrides: Any) -> "Trainer":
        from statetrainer.trainer.args import flags_from_args
        return cls(**{**flags_from_args(args), **overrides})

    # ---------------------------------------------------------------- internals used by the module
    def _manual_backward(self, loss, *args: Any, **kwargs: Any) -> None:
        from statetrainer.loop.training import manual_backward
        manual_backward(self._require_session("manual_backward"), loss, *args, **kwargs)

    def _require_session(self, what: str):
        if self._session is None:
            raise MisconfigurationError(f"{what} can only be called while the trainer is running.")
        return self._session
