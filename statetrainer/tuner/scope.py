"""TuningScope: everything a tuning run must leave as it found it, captured in memory and put back.

- the model's tensors (captured in the first trial once the model is configured, as Lightning's
  checkpoint is), its train/eval modes and its link to the user's trainer;
- the optimizers' and schedulers' states (any optimizer a trial's configure_optimizers hands back,
  so a module that caches its optimizer gets it back untouched);
- the user's trainer's counters, and the python/numpy/torch RNG streams;
- the module's configure_callbacks is bypassed, so a trial runs only the tuner's callbacks.

Inside the scope the user's trainer reads `state.fn == "tune"`; it keeps reading so afterwards,
as Lightning 1.x's trainer did after `tune()`. A finder callback searching from a hook of a running
call (`live`) leaves the user's trainer's machine and state alone: that call goes on afterwards.
"""
from __future__ import annotations

import copy
from typing import Any

import torch

from statetrainer.callbacks.callback import Callback
from statetrainer.loop import rng
from statetrainer.tuner.live import is_running

__all__ = ["TuningScope"]


def _to_cpu(value: Any) -> Any:
    """A deep copy with every tensor cloned to the CPU (the snapshot must not take device memory)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(item) for item in value)
    return copy.deepcopy(value)


class _Keeper(Callback):
    """Listens inside every trial: captures what the trial is about to change, the first time it sees it."""

    def __init__(self, scope: "TuningScope") -> None:
        self.scope = scope

    def on_fit_start(self, trainer, pl_module) -> None:
        self.scope.capture_configured(trainer, pl_module)

    def on_validation_start(self, trainer, pl_module) -> None:
        self.scope.capture_configured(trainer, pl_module)

    def on_test_start(self, trainer, pl_module) -> None:
        self.scope.capture_configured(trainer, pl_module)

    def on_predict_start(self, trainer, pl_module) -> None:
        self.scope.capture_configured(trainer, pl_module)


class TuningScope:
    """`with TuningScope(trainer, model, datamodule) as scope:` run trials with `scope.keeper` first in
    their callbacks; on exit (success or error) everything is restored."""

    def __init__(self, trainer, model, datamodule=None) -> None:
        self.trainer, self.model, self.datamodule = trainer, model, datamodule
        self.keeper = _Keeper(self)
        self._weights: dict | None = None
        self._stateful: dict[int, tuple[Any, Any]] = {}
        self.live = is_running(trainer)

    def __enter__(self) -> "TuningScope":
        self._modes = {name: m.training for name, m in self.model.named_modules()}
        self._rng = rng.capture()
        self._progress = self.trainer._position.counters()
        self._own_hook = self.model.__dict__.get("configure_callbacks")
        self.model.__dict__["configure_callbacks"] = _no_callbacks
        if not self.live:
            self.trainer.state.fn = "tune"
            self.trainer._machine.fire("tune")  # idle/finished -> tuning; refused while another call runs
        return self

    def capture_configured(self, trial, module) -> None:
        if self._weights is None:
            self._weights = _to_cpu(module.state_dict())
        for obj in list(trial.optimizers) + [config.scheduler for config in trial.lr_scheduler_configs]:
            if id(obj) not in self._stateful and hasattr(obj, "state_dict"):
                self._stateful[id(obj)] = (obj, _to_cpu(obj.state_dict()))

    def __exit__(self, exc_type, exc, tb) -> bool:
        if not self.live:  # a running call goes on (or handles the error) by itself
            self._leave_machine(exc_type)
        if self._own_hook is None:
            self.model.__dict__.pop("configure_callbacks", None)
        else:
            self.model.__dict__["configure_callbacks"] = self._own_hook
        if self._weights is not None:
            self.model.load_state_dict(self._weights, strict=exc_type is None)
        for obj, state in self._stateful.values():
            obj.load_state_dict(state)
        for name, module in self.model.named_modules():
            module.training = self._modes.get(name, module.training)
        rng.restore(self._rng)
        self.trainer._position.set_counters(self._progress)
        self._relink()
        return False

    def _leave_machine(self, exc_type) -> None:
        if exc_type is None:
            self.trainer._machine.fire("ended")
        else:
            self.trainer._machine.force_terminal("interrupt" if issubclass(exc_type, KeyboardInterrupt) else "fail")

    def _relink(self) -> None:
        """After tuning the model and datamodule belong to the user's trainer again (as after a Lightning fit)."""
        self.model._trainer = self.trainer
        self.trainer._module = self.model
        if self.datamodule is not None:
            self.datamodule.trainer = self.trainer
            self.trainer._datamodule = self.datamodule


def _no_callbacks() -> list:
    return []
