"""The training batch of one run, planned once: which of its hooks have listeners (module overrides,
callbacks, signal receivers), how `training_step` is called, and whether the plain body can run.

The plan is made when training starts and made again whenever a receiver connects or disconnects
(`signals.listeners_version()`), so the body of a batch contains only what the run needs while the
table still decides every transition and every listener sees the same hooks in the same order.

The plain body — automatic optimization, one torch optimizer that evaluates its closure once, no
precision scaling or autocast, no accumulation, no clipping or gradient-norm tracking, no profiler,
one process, and nobody listening to any hook inside the optimization — is Lightning's order with
nothing to announce: training_step, zero_grad, backward, optimizer.step, global_step + 1.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from statetrainer.module.hook_lookup import accepts, implementation
from statetrainer.module.hooks import HookStubs
from statetrainer.signals import CATALOGUE, LISTENER_CHANGES, listeners_version

__all__ = ["TrainingPlan"]

# hooks inside automatic optimization: when none has a listener, the plain body may run
_INSIDE_OPTIMIZATION = ("training_step", "on_before_zero_grad", "optimizer_zero_grad", "on_before_backward", "backward",
                        "on_after_backward", "on_before_optimizer_step", "configure_gradient_clipping",
                        "optimizer_step")


# whether a torch profiler records now (then the plain body clears gradients through torch, range and all)
profiler_enabled = torch._C._autograd._profiler_enabled


class TrainingPlan:
    """Decisions for the training batches of one run; `current()` re-decides after a listener change."""

    def __init__(self, session):
        self.s = session
        self.version = -1
        self.accumulation_seen = -1
        self.step: Callable = lambda *args: None
        self.takes_batch_idx = True
        self.plain = False
        self.transfers = True
        self.optimizer: Any = None
        self.clears_directly = False  # the plain body sets .grad = None itself (the optimizer keeps torch's zero_grad)
        self.warned_none = False  # a None batch was reported in this fit

    def current(self) -> "TrainingPlan":
        """This plan, decided again first if a receiver connected or disconnected, or accumulation changed."""
        accumulation = self.s.optim.accumulation
        if LISTENER_CHANGES[0] != self.version or (accumulation is not None
                                                   and accumulation.changes != self.accumulation_seen):
            self._decide()
        return self

    def _decide(self) -> None:
        s = self.s
        self.version = listeners_version()
        self.accumulation_seen = s.optim.accumulation.changes if s.optim.accumulation is not None else -1
        self.step = implementation(s.module, HookStubs, "training_step") or s.module.training_step
        self.takes_batch_idx = accepts(self.step, "batch_idx", min_args=2)
        self.transfers = s.feed.transfers()
        self.plain = self._plain_possible()
        self.optimizer = s.optim.optimizers[0] if self.plain else None
        self.clears_directly = self.plain and type(self.optimizer).zero_grad is torch.optim.Optimizer.zero_grad

    def _plain_possible(self) -> bool:
        s, d = self.s, self.s.dispatch
        if not s.module.automatic_optimization or len(s.optim.optimizers) != 1 or d.profiler is not None:
            return False
        if not s.optim.steps_plainly() or s.optim.step_through is not None or s.optim.no_sync is not None:
            return False
        return not any(d.listened(hook) or not d.is_plain(hook) for hook in _INSIDE_OPTIMIZATION
                       if hook not in ("training_step",)) and not CATALOGUE["training_step"].receivers

    def step_args(self, batch: Any, batch_idx: int) -> tuple:
        return (batch, batch_idx) if self.takes_batch_idx else (batch,)

    def run_plain(self, batch: Any, batch_idx: int) -> dict:
        """training_step, zero_grad, backward, step — Lightning's order, with no hook to announce."""
        s = self.s
        state = s.module.__dict__
        previous, state["_current_fx_name"] = state.get("_current_fx_name"), "training_step"
        try:
            out = self.step(batch, batch_idx) if self.takes_batch_idx else self.step(batch)
        finally:
            state["_current_fx_name"] = previous
        if isinstance(out, torch.Tensor):
            loss, extra = out, None
        else:
            from statetrainer.loop.training import split_training_output
            loss, extra = split_training_output(out, True)
        optimizer = self.optimizer
        if self.clears_directly and not profiler_enabled():
            # what torch's zero_grad() (set_to_none=True) does, without the profiler range it opens around
            # it (tens of µs per step on a small model; decision 007); a recording torch profiler gets torch's
            for group in optimizer.param_groups:
                for param in group["params"]:
                    if param.grad is not None:
                        param.grad = None
        else:
            optimizer.zero_grad()
        if loss is not None:
            loss.backward()
        else:
            from statetrainer.loop.training import no_loss
            no_loss(s.strategy.world_size)
        optimizer.step()
        s.position.global_step += 1
        if loss is None:
            return {}
        return {"loss": loss.detach()} if not extra else {"loss": loss.detach(), **extra}
