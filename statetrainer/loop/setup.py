"""The `connect`, `prepare_data`, `setup` and `teardown` states: configuring a run and releasing it."""
from __future__ import annotations

from collections.abc import Sequence

from statetrainer.loggers import lifecycle
from statetrainer.loop.dispatch import is_checkpointing

__all__ = ["connect", "prepare_data", "setup", "teardown", "attach_model_callbacks"]

_STAGE = {"fit": "fit", "validate": "validate", "test": "test", "predict": "predict"}


def attach_model_callbacks(callbacks: list, extra) -> list:
    """Module callbacks (a sequence or a single callback) replace trainer callbacks of the same type;
    checkpoint-type callbacks go last."""
    if extra is None:
        extra = []
    extra = list(extra) if isinstance(extra, Sequence) else [extra]
    if extra:
        types = {type(cb) for cb in extra}
        callbacks = [cb for cb in callbacks if type(cb) not in types] + extra
    return [cb for cb in callbacks if not is_checkpointing(cb)] + [cb for cb in callbacks if is_checkpointing(cb)]


def connect(s) -> str:
    """configure_callbacks: the module's callbacks join (and replace) the trainer's."""
    d = s.dispatch
    extra = d.call_module("configure_callbacks")
    s.callbacks[:] = attach_model_callbacks(s.callbacks, extra)
    d.set_callbacks(s.callbacks)
    return "connected"


def prepare_data(s) -> str:
    """prepare_data (the table's `prepares_data` guard chose this process to run it)."""
    s.dispatch.call("prepare_data")
    return "prepared"


def setup(s) -> str:
    """setup(stage), configure_model, the checkpoint's weights, device (and the strategy's wrapper),
    optimizers, on_fit_start, loggers, the checkpoint's training state."""
    d, stage = s.dispatch, _STAGE[s.fn]
    s.strategy.barrier("prepare_data")  # every rank arrives here once the data is prepared
    d.call_staged("setup", stage)
    d.call_module("configure_model")
    s.run.restore.modules(s)  # weights and callback states (Lightning's order: before the optimizers)
    s.precision.convert_module(s.module)
    if s.fn == "fit" and s.config.sync_batchnorm and s.strategy.world_size > 1:
        from statetrainer.strategies.sync_batchnorm import convert_sync_batchnorm
        convert_sync_batchnorm(s.module, s.strategy.root_device)
    s.run.model = s.strategy.setup_module(s.strategy.model_to_device(s.module), training=s.fn == "fit")
    if s.fn == "fit":
        s.optim.configure()
        d.call("on_fit_start")
    lifecycle.start(s.loggers, s.module, s.datamodule)
    if s.fn == "fit":
        s.run.restore.training(s)  # optimizers, schedulers, the position, the feed (after on_fit_start)
    s.module.zero_grad()  # every stage starts with no gradients (Lightning calls it here too)
    return "configured"


def teardown(s) -> str:
    s.strategy.barrier("teardown")  # every rank finished the call's work before any tears down
    s.dispatch.call_staged("teardown", _STAGE[s.fn])
    if s.fn == "fit" and s.config.sync_batchnorm and s.strategy.world_size > 1:
        from statetrainer.strategies.sync_batchnorm import revert_sync_batchnorm
        revert_sync_batchnorm(s.module)  # as Lightning: the model leaves fit with plain batch norms
    s.feed.close()  # the loaders' worker processes stop (as Lightning's teardown)
    return "ended"
