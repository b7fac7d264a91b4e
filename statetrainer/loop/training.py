"""One training batch: automatic optimization (closure-based, as Lightning) or manual."""
from __future__ import annotations

from typing import Any

import torch

from statetrainer.errors import MisconfigurationError, MisconfigurationRuntimeError
from statetrainer.utilities.rank_zero import WarningCache

__all__ = ["run_training_batch", "split_training_output", "manual_backward", "no_loss", "NO_LOSS"]

NO_LOSS_MESSAGE = ("training_step returned None, so this batch trains nothing (no backward, and the optimizer "
                   "steps on no new gradients); return the loss to train on it.")
NO_LOSS = WarningCache()  # once per process, as Lightning's: a step that skips on purpose is not flooded


def split_training_output(out: Any, automatic: bool) -> tuple[Any, dict]:
    """(loss tensor or None, extra outputs) from what training_step returned."""
    if out is None:
        return None, {}
    if isinstance(out, torch.Tensor):
        return out, {}
    if isinstance(out, dict):
        if automatic and "loss" not in out:
            raise MisconfigurationError(
                f"training_step returned a dict with keys {sorted(out)}; accepted in automatic optimization: a "
                "dict with a 'loss' key, a loss Tensor, or None to skip the step.")
        extra = {k: v for k, v in out.items() if k != "loss"}
        return out.get("loss"), extra
    if automatic:
        raise MisconfigurationError(
            f"training_step returned {type(out).__name__}; accepted in automatic optimization: a loss Tensor, "
            "a dict with a 'loss' key, or None.")
    raise MisconfigurationError(
        f"training_step returned {type(out).__name__}; in manual optimization it must return a Tensor or have no "
        "return (a dict of outputs is accepted too).")


def no_loss(world_size: int) -> None:
    """A training_step that returned None: a warning in one process; refused with several, where the other
    processes' backward would wait for this one's gradients."""
    if world_size > 1:
        raise MisconfigurationRuntimeError(
            f"training_step returned None with {world_size} processes; accepted in distributed automatic "
            "optimization: a loss on every process (skipping a step on one process leaves the others waiting).")
    NO_LOSS.warn(NO_LOSS_MESSAGE)


def _training_step(s, plan, batch, batch_idx) -> Any:
    with s.precision.autocast():
        args = plan.step_args(batch, batch_idx)
        if s.optim.step_through is None:
            out = s.dispatch.call_module("training_step", *args)
        else:  # several processes: through the strategy's wrapper
            out = s.optim.step_through(*args)
    return out


def manual_backward(s, loss, *args, **kwargs) -> None:
    """`self.manual_backward(loss)`: the backward hooks around the precision-aware backward."""
    if s.module.automatic_optimization:
        raise MisconfigurationError("manual_backward was called with automatic_optimization=True; accepted: "
                                    "set `self.automatic_optimization = False` to optimize manually.")
    s.optim.backward(loss, *args, **kwargs)


def _automatic(s, plan, batch, batch_idx) -> dict:
    p = s.position
    k = p.accumulates()
    step_opt = s.optim.step_optimizers[0]
    d = s.dispatch
    clear_grads = batch_idx % k == 0
    holder: dict = {}

    def closure():
        loss, extra = split_training_output(_training_step(s, plan, batch, batch_idx), True)
        if loss is None:
            no_loss(s.strategy.world_size)
        elif k != 1:
            loss = loss / k
        if clear_grads:
            d.call("on_before_zero_grad", step_opt)
            s.optim.zero_grad(step_opt, batch_idx)
        if loss is not None:
            s.optim.backward(loss)
            holder["out"] = {"loss": loss.detach(), **extra}
        else:
            holder["out"] = {}
        return loss

    if p.steps_after_this_batch():
        if d.is_plain("optimizer_step"):
            step_opt.step(closure=closure)  # HookStubs.optimizer_step's body
        else:
            d.call_module("optimizer_step", p.epoch, batch_idx, step_opt, closure)
        if "out" not in holder:
            raise MisconfigurationError(
                "optimizer_step did not call the optimizer closure; accepted: an override that calls "
                "`optimizer.step(closure=optimizer_closure)` so training_step runs.")
    elif s.optim.no_sync is None:
        closure()
    else:
        with s.optim.no_sync():  # several processes: this batch's gradients stay local until the stepping batch
            closure()
    return holder["out"]


def _manual(s, plan, batch, batch_idx) -> dict:
    out = _training_step(s, plan, batch, batch_idx)
    loss, extra = split_training_output(out, False)
    if loss is not None:
        return {"loss": loss.detach(), **extra}
    return dict(extra) if isinstance(out, dict) else {}


def run_training_batch(s, plan, batch, batch_idx) -> dict:
    """Run training_step and the optimization chain with every hook; returns the outputs given to
    on_train_batch_end (the plan's plain body does the same when nobody listens)."""
    if s.module.automatic_optimization:
        return _automatic(s, plan, batch, batch_idx)
    return _manual(s, plan, batch, batch_idx)
