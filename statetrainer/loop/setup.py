"""The `setup` and `teardown` states: configuring a run and releasing it."""
from __future__ import annotations

from statetrainer.errors import MisconfigurationError
from statetrainer.machine.guards import prepares_data
from statetrainer.module.optim_config import parse_optimizers
from statetrainer.module.optimizer import StepOptimizer

__all__ = ["setup", "teardown", "attach_model_callbacks"]

_STAGE = {"fit": "fit", "validate": "validate", "test": "test", "predict": "predict"}


def attach_model_callbacks(callbacks: list, extra) -> list:
    """Module callbacks replace trainer callbacks of the same type; checkpoint-type callbacks go last."""
    from statetrainer.trainer.dispatch import is_checkpointing
    extra = list(extra or [])
    if extra:
        types = {type(cb) for cb in extra}
        callbacks = [cb for cb in callbacks if type(cb) not in types] + extra
    return [cb for cb in callbacks if not is_checkpointing(cb)] + [cb for cb in callbacks if is_checkpointing(cb)]


def _configure_optimizers(s) -> None:
    module = s.module
    raw = s.dispatch.call_module("configure_optimizers")
    optimizers, configs = parse_optimizers(raw, module.automatic_optimization)
    if module.automatic_optimization and len(optimizers) > 1:
        raise MisconfigurationError(
            f"configure_optimizers returned {len(optimizers)} optimizers with automatic optimization; accepted: "
            "one optimizer, or set `self.automatic_optimization = False` and step them in training_step.")
    if not module.automatic_optimization and s.clip_val:
        raise MisconfigurationError(
            f"`gradient_clip_val` got {s.clip_val!r} with manual optimization; accepted: None, and call "
            "`self.clip_gradients(opt, ...)` in training_step instead.")
    s.optimizers = optimizers
    s.step_optimizers = [StepOptimizer(opt, s.stepper) for opt in optimizers]
    s.scheduler_configs = configs


def setup(s) -> str:
    """configure_callbacks, prepare_data, setup(stage), configure_model, device, optimizers, restore,
    on_fit_start."""
    d, stage = s.dispatch, _STAGE[s.fn]
    extra = d.call_module("configure_callbacks")
    s.callbacks[:] = attach_model_callbacks(s.callbacks, extra)
    d.callbacks = list(s.callbacks)
    d.invalidate()
    if prepares_data(s.ctx):
        d.call("prepare_data")
    d.call("setup", stage)
    d.call_module("configure_model")
    if s.on_model_ready is not None:
        s.on_model_ready(s)  # checkpoint: module weights and callback states (Lightning's order)
    s.precision.convert_module(s.module)
    s.strategy.model_to_device(s.module)
    if s.fn == "fit":
        _configure_optimizers(s)
        d.call("on_fit_start")
    if s.on_started is not None:
        s.on_started(s)  # loggers' hyper-parameters, then checkpoint: optimizers and loop progress
    return "configured"


def teardown(s) -> str:
    s.dispatch.call("teardown", _STAGE[s.fn])
    return "ended"
