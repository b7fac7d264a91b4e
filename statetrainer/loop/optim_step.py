"""Optimization: the one owner of a run's optimizers, schedulers, clipping, the optimizer step and the
accumulation schedule. `trainer.optimizers` / `lr_scheduler_configs` read it; a strategy that wraps
the step (DDP's `no_sync`) plugs in here.

    Stepper path (what `StepOptimizer.step` does): closure (training_step, zero_grad, backward)
    -> unscale -> on_before_optimizer_step -> grad norms -> configure_gradient_clipping -> step
    -> global_step += 1.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Optional

import torch

from statetrainer.errors import MisconfigurationError, MisconfigurationRuntimeError
from statetrainer.module.hook_lookup import implementation
from statetrainer.module.hooks import HookStubs
from statetrainer.module.optim_config import check_scheduler_api, parse_optimizers
from statetrainer.module.optimizer import StepOptimizer
from statetrainer.profilers import actions
from statetrainer.signals import CATALOGUE

__all__ = ["Optimization", "Accumulation", "grad_norms"]


class Accumulation:
    """The accumulation schedule {first epoch: k}. `request` is how a callback changes it (the
    documented route: `trainer.accumulate_grad_batches = k` or `= {epoch: k}`)."""

    def __init__(self, schedule: dict[int, int]):
        self.schedule = dict(schedule)
        self._single = self.schedule.get(0, 1) if len(self.schedule) == 1 else None
        self.changes = 0        # requests so far (a run's batch plan re-decides when this moves)

    def factor(self, epoch: int) -> int:
        if self._single is not None:
            return self._single
        k = 1
        for start in sorted(self.schedule):
            if epoch >= start:
                k = self.schedule[start]
        return k

    def request(self, value: Any, from_epoch: int = 0) -> None:
        """An int: k from `from_epoch` on (earlier epochs keep theirs); a dict: the whole schedule."""
        if isinstance(value, dict):
            self.schedule = {int(e): int(k) for e, k in value.items()}
        else:
            kept = {e: k for e, k in self.schedule.items() if e < from_epoch}
            self.schedule = {**kept, from_epoch: int(value)}
        self._single = self.schedule.get(0, 1) if len(self.schedule) == 1 and 0 in self.schedule else None
        self.changes += 1


class Optimization:
    """Optimizers and schedulers of one run, and how a step happens."""

    def __init__(self, module, dispatch, precision, position, config, metrics, profiler=None, accumulation=None,
                 strategy=None):
        self.module = module
        self.dispatch = dispatch
        self.precision = precision
        self.position = position
        self.metrics = metrics
        self.optimizers: list = []
        self.step_optimizers: list[StepOptimizer] = []
        self.scheduler_configs: list = []
        self.clip_val = config.gradient_clip_val
        self.clip_algorithm = config.gradient_clip_algorithm
        self.track_norm = config.track_grad_norm
        self.accumulation = accumulation
        self._clips: Optional[bool] = None      # decided on the first step of the run
        # several processes (a strategy with a launcher) plug in here, decided once: None is the plain path
        several = strategy is not None and strategy.launcher is not None
        self.step_through = strategy.step_through_wrapper(module, functools.partial(
            dispatch.call_module, "training_step")) if several else None
        self.no_sync = strategy.no_sync if several else None   # accumulation batches keep gradients local
        self._pre_backward = strategy.pre_backward if several else None
        # the loop's own work, each a profiler row: the plain methods unless a profiler is active
        self.step = actions.timed(profiler, actions.OPTIMIZER_STEP, self._step)
        self.backward = actions.timed(profiler, actions.BACKWARD, self._backward)
        self.zero_grad = actions.timed(profiler, actions.ZERO_GRAD, self._zero_grad)

    # ------------------------------------------------------------------ building
    def configure(self) -> None:
        """configure_optimizers, parsed and checked; optimizers wrapped so their step runs the hooks."""
        module = self.module
        raw = self.dispatch.call_module("configure_optimizers")
        optimizers, configs = parse_optimizers(raw, module.automatic_optimization)
        _check_one_optimizer(module, len(optimizers))
        custom_step = implementation(module, HookStubs, "lr_scheduler_step") is not None
        check_scheduler_api(configs, module.automatic_optimization and not custom_step)
        if not module.automatic_optimization and self.clip_val:
            raise MisconfigurationError(
                f"`gradient_clip_val` got {self.clip_val!r} with manual optimization; accepted: None, and call "
                "`self.clip_gradients(opt, ...)` in training_step instead.")
        self.optimizers = optimizers
        self.step_optimizers = [StepOptimizer(opt, self.step) for opt in optimizers]
        self.scheduler_configs = configs

    def steps_plainly(self) -> bool:
        """An optimizer step here is just `optimizer.step()` after the closure: no scaler or autocast, a torch
        optimizer that evaluates its closure once, no accumulation, no clipping, no gradient norms."""
        from statetrainer.plugins.precision import evaluates_closure_once
        precision = self.precision
        if precision.scaler is not None or precision.mixed_dtype is not None or self.track_norm != -1:
            return False
        if self.accumulation is None or self.accumulation.schedule != {0: 1}:
            return False
        return len(self.optimizers) == 1 and evaluates_closure_once(self.optimizers[0]) and not self._decide_clipping()

    def wrapped(self, raw) -> Any:
        for wrapped in self.step_optimizers:
            if wrapped.optimizer is raw:
                return wrapped
        return raw

    # ------------------------------------------------------------------ the step
    def _backward(self, loss, *args, **kwargs) -> None:
        """on_before_backward, the backward pass (or the module's override), on_after_backward."""
        d = self.dispatch
        if self._pre_backward is not None:
            self._pre_backward(loss, self.module.automatic_optimization)
        d.call("on_before_backward", loss)
        if self.precision.scaler is None and not args and not kwargs and d.is_plain("backward"):
            loss.backward()  # HookStubs.backward's body
        else:
            self.precision.backward(loss, d, *args, **kwargs)
        d.call("on_after_backward")

    def _zero_grad(self, step_opt, batch_idx: int) -> None:
        """Clear the gradients before backward: the module's optimizer_zero_grad, or the optimizer's zero_grad."""
        d = self.dispatch
        if d.is_plain("optimizer_zero_grad"):
            step_opt.optimizer.zero_grad()  # HookStubs.optimizer_zero_grad's body
        else:
            d.call_module("optimizer_zero_grad", self.position.epoch, batch_idx, step_opt)

    def _step(self, optimizer, closure: Callable[[], Any] | None, kwargs: dict) -> Any:
        """What `StepOptimizer.step` does: closure -> before-step hooks -> clipping -> step -> count."""
        result = self.precision.optimizer_step(optimizer, self._after_closure(optimizer, closure), **kwargs)
        self.position.global_step += 1
        return result

    def _decide_clipping(self) -> bool:
        """configure_gradient_clipping runs in automatic optimization when it can do something or is
        watched: the module overrides it, gradient_clip_val is set, or its signal has receivers."""
        if self._clips is None:
            module = self.module
            overridden = implementation(module, HookStubs, "configure_gradient_clipping") is not None
            watched = bool(CATALOGUE["configure_gradient_clipping"].receivers)
            self._clips = module.automatic_optimization and (overridden or bool(self.clip_val) or watched)
        return self._clips

    def _after_closure(self, optimizer, closure):
        clips, track, dispatch = self._decide_clipping(), self.track_norm, self.dispatch
        step_opt = self.wrapped(optimizer)

        def run() -> Any:
            out = closure() if closure is not None else None
            self.precision.unscale(optimizer)
            dispatch.call("on_before_optimizer_step", step_opt)
            if track != -1:
                self._log_grad_norms(track)
            if clips:
                dispatch.call_module("configure_gradient_clipping", step_opt, self.clip_val, self.clip_algorithm)
            return out
        return run

    def _log_grad_norms(self, norm_type) -> None:
        """track_grad_norm: log the gradient p-norms before the optimizer steps."""
        norms = grad_norms(self.module, norm_type)
        if norms:
            state = self.module.__dict__
            previous, state["_current_fx_name"] = state.get("_current_fx_name"), "on_before_optimizer_step"
            try:
                self.module.log_dict(norms, on_step=True, on_epoch=True)
            finally:
                state["_current_fx_name"] = previous

    # ------------------------------------------------------------------ schedulers
    def step_schedulers(self, interval: str, plateau: bool, index: int) -> None:
        """Step the schedulers of `interval` whose frequency divides `index` + 1 (Lightning's rule)."""
        if not self.scheduler_configs or not self.module.automatic_optimization:
            return
        for config in self.scheduler_configs:
            if plateau != config.reduce_on_plateau or config.interval != interval:
                continue
            if (index + 1) % config.frequency != 0:
                continue
            metric = None
            if config.reduce_on_plateau:
                metric = self.metrics.callback_metrics.get(config.monitor)
                if metric is None:
                    if config.strict:
                        raise MisconfigurationError(
                            f"ReduceLROnPlateau monitors {config.monitor!r}, which was never logged; accepted: one "
                            f"of the logged metrics {sorted(self.metrics.callback_metrics)} (or strict=False to "
                            "skip).")
                    continue
            self.dispatch.call_module("lr_scheduler_step", config.scheduler, metric)

    def after_batch(self, stepped: bool, epoch_ended: bool) -> None:
        """Right after training_step's optimization: step-interval schedulers when the optimizer stepped,
        epoch-interval ones when the epoch's data ended (plateau ones wait for `close_batch`)."""
        p = self.position
        if stepped:
            self.step_schedulers("step", False, p.batch_idx)
        if epoch_ended:
            self.step_schedulers("epoch", False, p.epoch)

    def close_batch(self) -> None:
        """The deferred part of the last batch, after its validation: plateau schedulers on steps."""
        if self.position.take_close():
            self.step_schedulers("step", True, self.position.batch_idx)

    def close_epoch(self) -> None:
        """After on_train_epoch_end: plateau schedulers on epochs (they may monitor a validation metric)."""
        p = self.position
        if p.epoch_data_ended():
            self.step_schedulers("epoch", True, p.epoch)

    # ------------------------------------------------------------------ saving and restoring
    def state_dict(self) -> dict[str, Any]:
        return {"optimizer_states": [optimizer.state_dict() for optimizer in self.optimizers],
                "lr_schedulers": [config.scheduler.state_dict() for config in self.scheduler_configs]}

    def load_state_dict(self, state: dict[str, Any], source: str = "") -> None:
        from statetrainer.errors import CheckpointError
        pairs = (("optimizer", self.optimizers, state.get("optimizer_states", [])),
                 ("lr scheduler", [c.scheduler for c in self.scheduler_configs], state.get("lr_schedulers", [])))
        for label, objects, states in pairs:
            if len(objects) != len(states):
                raise CheckpointError(f"checkpoint {source!r} holds {len(states)} {label} state(s) but "
                                      f"configure_optimizers returned {len(objects)} {label}(s).")
            for obj, saved in zip(objects, states):
                obj.load_state_dict(saved)


def _check_one_optimizer(module, count: int) -> None:
    """Several optimizers need manual optimization; a training_step taking `optimizer_idx` (Lightning 1.x's
    way to alternate them) is refused with the route to take instead."""
    import inspect
    try:
        takes_idx = "optimizer_idx" in inspect.signature(module.training_step).parameters
    except (TypeError, ValueError, AttributeError):
        takes_idx = False
    if takes_idx:
        raise MisconfigurationRuntimeError(
            "training_step takes `optimizer_idx`, but training with multiple optimizers is only supported with "
            "manual optimization. Remove the `optimizer_idx` argument from `training_step`, set "
            "`self.automatic_optimization = False` and step each of `self.optimizers()` yourself.")
    if module.automatic_optimization and count > 1:
        raise MisconfigurationRuntimeError(
            f"configure_optimizers returned {count} optimizers with automatic optimization; training with "
            "multiple optimizers is only supported with manual optimization: set "
            "`self.automatic_optimization = False` and step them in training_step.")


def grad_norms(module, norm_type) -> dict:
    """{"grad_<p>_norm/<param>": norm, ..., "grad_<p>_norm_total": norm of the norms} (Lightning 1.x names)."""
    p = float(norm_type)
    norms = {f"grad_{p}_norm/{name}": param.grad.detach().norm(p)
             for name, param in module.named_parameters() if param.grad is not None}
    if norms:
        norms[f"grad_{p}_norm_total"] = torch.stack(list(norms.values())).norm(p)
    return norms
