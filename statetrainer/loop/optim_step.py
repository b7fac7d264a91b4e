"""Optimizer steps and scheduler steps, with Lightning's hooks around them."""
from __future__ import annotations

from typing import Any, Callable

import torch

from statetrainer.module.hooks import HookStubs
from statetrainer.signals import CATALOGUE

__all__ = ["Stepper", "step_schedulers"]


class Stepper:
    """What `StepOptimizer.step` does: closure -> before-step hooks -> clipping -> step -> count."""

    def __init__(self, session):
        self.s = session
        self._clip: bool | None = None   # decided on the first step of the run

    def __call__(self, optimizer, closure: Callable[[], Any] | None, kwargs: dict) -> Any:
        s = self.s
        wrapped = self._after_closure(optimizer, closure)
        result = s.precision.optimizer_step(optimizer, wrapped, **kwargs)
        s.progress.global_step += 1
        return result

    def _clips(self) -> bool:
        """configure_gradient_clipping runs in automatic optimization when it can do something or is watched:
        the module overrides it, gradient_clip_val is set (the default with no value is a no-op), or its
        signal has receivers."""
        if self._clip is not None:
            return self._clip
        module = self.s.module
        overridden = type(module).configure_gradient_clipping is not HookStubs.configure_gradient_clipping
        watched = bool(CATALOGUE["configure_gradient_clipping"].receivers)
        self._clip = module.automatic_optimization and (overridden or bool(self.s.clip_val) or watched)
        return self._clip

    def _after_closure(self, optimizer, closure):
        s = self.s
        clips = self._clips()
        track = s.config.track_grad_norm
        step_opt = s.step_optimizer_for(optimizer)

        def run() -> Any:
            out = closure() if closure is not None else None
            s.precision.unscale(optimizer)
            s.dispatch.call("on_before_optimizer_step", step_opt)
            if track != -1:
                _log_grad_norms(s, track)
            if clips:
                s.dispatch.call_module("configure_gradient_clipping", step_opt, s.clip_val, s.clip_algorithm)
            return out
        return run


def grad_norms(module, norm_type) -> dict:
    """{"grad_<p>_norm/<param>": norm, ..., "grad_<p>_norm_total": norm of the norms} (Lightning 1.x names)."""
    p = float(norm_type)
    norms = {f"grad_{p}_norm/{name}": param.grad.detach().norm(p)
             for name, param in module.named_parameters() if param.grad is not None}
    if norms:
        norms[f"grad_{p}_norm_total"] = torch.stack(list(norms.values())).norm(p)
    return norms


def _log_grad_norms(s, norm_type) -> None:
    """track_grad_norm: log the gradient p-norms before the optimizer steps."""
    norms = grad_norms(s.module, norm_type)
    if norms:
        state = s.module.__dict__
        previous, state["_current_fx_name"] = state.get("_current_fx_name"), "on_before_optimizer_step"
        try:
            s.module.log_dict(norms, on_step=True, on_epoch=True)
        finally:
            state["_current_fx_name"] = previous


def step_schedulers(session, interval: str, plateau: bool, index: int) -> None:
    """Step the schedulers of `interval` whose frequency divides `index` + 1 (Lightning's rule)."""
    s = session
    if not s.scheduler_configs or not s.module.automatic_optimization:
        return
    for config in s.scheduler_configs:
        if plateau != config.reduce_on_plateau or config.interval != interval:
            continue
        if (index + 1) % config.frequency != 0:
            continue
        metric = None
        if config.reduce_on_plateau:
            metric = s.metrics.callback_metrics.get(config.monitor)
            if metric is None:
                if config.strict:
                    from statetrainer.errors import MisconfigurationError
                    raise MisconfigurationError(
                        f"ReduceLROnPlateau monitors {config.monitor!r}, which was never logged; accepted: one "
                        f"of the logged metrics {sorted(s.metrics.callback_metrics)} (or strict=False to skip).")
                continue
        s.dispatch.call_module("lr_scheduler_step", config.scheduler, metric)
