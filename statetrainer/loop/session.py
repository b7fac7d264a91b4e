"""Session: what one fit/validate/test/predict call works with, handed to the state actions."""
from __future__ import annotations

from typing import Any

from statetrainer.loop import training
from statetrainer.loop.data import Fetcher
from statetrainer.module.optimizer import StepOptimizer
from statetrainer.profilers import actions

__all__ = ["Session"]


class Session:
    """The run's parts: module, dispatcher, loop context and counters, data, optimizers, precision."""

    def __init__(self, *, fn, module, datamodule, dispatch, ctx, metrics, precision, strategy, config,
                 sources, callbacks):
        self.fn = fn
        self.module = module
        self.datamodule = datamodule
        self.dispatch = dispatch
        self.ctx = ctx
        self.progress = ctx.progress
        self.stop = ctx.stop
        self.metrics = metrics
        self.precision = precision
        self.strategy = strategy
        self.device = strategy.root_device
        self.config = config
        self.sources = sources          # DataSources: lazily resolved loaders
        self.callbacks = callbacks
        self.optimizers: list = []
        self.step_optimizers: list[StepOptimizer] = []
        self.scheduler_configs: list = []
        self.clip_val = config.gradient_clip_val
        self.clip_algorithm = config.gradient_clip_algorithm
        self.eval_run = None
        self.train_loader = None
        self.results: Any = None
        self._transfer_hooks = None
        self.resume: dict | None = None
        # set by the runner
        self.trainer = None
        self.state = None
        self.stepper = None
        self.on_model_ready = None
        self.on_started = None
        self.return_predictions = True
        # loop position that lives only for this call
        self.fetcher = None
        self.val_loaders = None
        self.val_limits = None
        self.val_loaded_epoch = None
        self.train_loaded_epoch = None
        self.eval_loaders = None
        self.batch_open = False
        self.batch_stepped = False
        self.training_skipped = False
        self.epoch_rng = None
        self.batch_running = False      # a training batch was fetched and has not reached on_train_batch_end
        self.step_at_batch_start = 0    # global_step when it was fetched (an interrupt before its step rolls back)
        self.resume_decided = True      # False: the last trained batch's validate/continue decision is pending
        self.sanity_rng = None
        # the loop's own work, each with a profiler row: plain functions unless a profiler is active
        profiler = dispatch.profiler
        self.fetch_train = actions.timed(profiler, actions.FETCH_TRAIN, Fetcher.fetch)   # (fetcher) -> batch
        self.transfer = actions.timed(profiler, actions.TRANSFER, self.transfer)
        self.backward = actions.timed(profiler, actions.BACKWARD, training.backward)     # (s, loss, ...)
        self.zero_grad = actions.timed(profiler, actions.ZERO_GRAD, training.zero_grad)  # (s, step_opt, batch_idx)

    def step_optimizer_for(self, raw) -> StepOptimizer:
        for wrapped in self.step_optimizers:
            if wrapped.optimizer is raw:
                return wrapped
        return raw

    def transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """convert_input -> on_before_batch_transfer -> transfer_batch_to_device -> on_after_batch_transfer."""
        hooks = self._transfer_hooks
        if hooks is None:
            hooks = self._transfer_hooks = _transfer_plan(self)
        batch = self.precision.convert_input(batch)
        for name, owner in hooks:
            if name == "transfer_batch_to_device":
                batch = _called(self, owner, name, batch, self.device, dataloader_idx)
            else:
                batch = _called(self, owner, name, batch, dataloader_idx)
        return batch


def _called(s, owner, name, *args):
    if owner is s.module:
        return s.dispatch.call_module(name, *args)
    return getattr(owner, name)(*args)


def _transfer_plan(s) -> list:
    """Which object runs each transfer hook (the datamodule's override wins, as in Lightning);
    hooks left at their defaults on a CPU run are skipped (the batch is already there)."""
    from statetrainer.data.datamodule import DataModule
    from statetrainer.module.hooks import HookStubs
    plan = []
    for name in ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer"):
        dm = s.datamodule
        if dm is not None and getattr(type(dm), name) is not getattr(DataModule, name):
            plan.append((name, dm))
        elif getattr(type(s.module), name) is not getattr(HookStubs, name):
            plan.append((name, s.module))
        elif name == "transfer_batch_to_device" and s.device.type != "cpu":
            plan.append((name, s.module))
    return plan
