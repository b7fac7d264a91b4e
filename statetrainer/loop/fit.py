"""The fit states' actions: sanity check, training start, epochs, batches, validation, end.

Each action does its state's work and returns the trigger; the table's guards pick where it leads.
Where the loop is lives in the position (`s.position`); where batches come from in the feed
(`s.feed`); optimizers and schedulers in the optimization owner (`s.optim`).
"""
from __future__ import annotations

import math

from statetrainer.loop.batch_plan import TrainingPlan
from statetrainer.loop.evaluation import EvalRun
from statetrainer.loop.training import run_training_batch
from statetrainer.machine.guards import needs_time, validation_epoch
from statetrainer.utilities.rank_zero import rank_zero_warn

__all__ = ["ACTIONS"]

NONE_BATCH_MESSAGE = ("the train_dataloader yielded None as a batch: on_train_batch_start and training_step are "
                      "skipped for it and on_train_batch_end gets outputs=None (warned once per fit).")


# ------------------------------------------------------------------------------------ validation
def _start_eval(s, stage: str, limits_cap: float = math.inf) -> str:
    # the random state first: loading the validation data may draw from it too (the sanity check leaves
    # everything as it found it, as Lightning's isolates it)
    s.position.begin_eval("sanity_check" if stage == "sanity_check" else "validation")
    loaders, limits = s.feed.val()
    limits = [min(limit, limits_cap) for limit in limits]
    cursor = s.feed.begin_eval(loaders, limits, in_fit=True)
    s.run.evaluation = EvalRun(s, "validation", stage, cursor, inference=False)
    s.ctx.eval_has_next = cursor.has_next
    s.run.evaluation.start()
    return "started"


def sanity_start(s) -> str:
    s.dispatch.call("on_sanity_check_start")
    return _start_eval(s, "sanity_check", s.position.shape.sanity_steps)


def eval_batch(s) -> str:
    s.run.evaluation.run_batch()
    return "batch_done"


def sanity_end(s) -> str:
    s.run.evaluation.end()
    s.dispatch.call("on_sanity_check_end")
    s.feed.end_eval(restore=True)
    s.position.end_eval()  # the sanity check leaves the random state as it found it
    return "ended"


def val_start(s) -> str:
    if s.position.batch_stepped:
        s.dispatch.call_module("on_validation_model_zero_grad")
    return _start_eval(s, "validate")


def val_end(s) -> str:
    s.run.evaluation.end()
    s.feed.end_eval(restore=False)
    s.position.end_eval()
    s.optim.close_batch()
    return "ended"


# ------------------------------------------------------------------------------------ training
def train_start(s) -> str:
    p = s.position
    s.feed.train()
    if p.resuming is not None and not p.mid_epoch:  # resumed between epochs: finish what was saved
        p.finish_pending_epoch()
        s.feed.apply_boundary_state()
        p.apply_resume_rng()
        p.resuming = None
    if p.shape.epoch_length == 0 or s.stop.decide() is not None:
        return "started"  # as Lightning: no on_train_start/end when a rule already holds
    if validation_epoch(s.ctx):
        s.feed.val()  # Lightning loads the validation data before on_train_start when it will validate
    p.train_started = True
    s.run.plan = TrainingPlan(s)
    _warn_eval_modules(s.module)
    s.dispatch.call("on_train_start")
    return "started"


def _warn_eval_modules(module) -> None:
    """Training keeps each submodule's mode as the user left it (as Lightning): say so when some are in eval."""
    in_eval = [name or "(the module itself)" for name, sub in module.named_modules() if not sub.training]
    if in_eval:
        shown = ", ".join(in_eval[:5]) + (", ..." if len(in_eval) > 5 else "")
        rank_zero_warn(f"training starts with {len(in_eval)} submodule(s) of {type(module).__name__} in eval mode "
                       f"({shown}); they stay so (dropout off, batch-norm statistics frozen) unless you call "
                       "`.train()` on them. Ignore this if it is intended.", category=UserWarning)


def epoch_start(s) -> str:
    p = s.position
    if p.resuming is not None and p.mid_epoch:  # continue the epoch the checkpoint was taken in
        p.resuming = None
        s.feed.start_epoch(resuming=True)
        s.feed.apply_mid_epoch_val_state()
        p.apply_resume_rng()
        if not s.feed.has_next_train() and not p.is_last_batch:
            p.epoch_skipped = True
        return "resumed"
    p.start_epoch()
    s.dispatch.call("on_train_epoch_start")
    p.remember_epoch_start()
    s.feed.start_epoch(resuming=False)
    if not s.feed.has_next_train():
        p.epoch_skipped = True
    return "started"


def train_batch(s) -> str:
    """One training batch, top to bottom; what this run does not need was left out by its plan."""
    plan = s.run.plan.current()
    p, feed, d = s.position, s.feed, s.dispatch
    if p.close_pending and s.optim.scheduler_configs:
        s.optim.close_batch()
    try:
        batch = feed.fetch_train()
    except StopIteration:
        p.is_last_batch = True
        return "exhausted"
    batch_idx = p.begin_batch(feed.fetcher.done)
    if plan.transfers:
        batch = feed.transfer(batch, 0)
    if batch is None:
        return _none_batch(s, batch_idx)
    skip = d.call("on_train_batch_start", batch, batch_idx) == -1
    if s.stop.across_ranks and d.user_listens("on_train_batch_start"):
        skip = s.stop.any_rank(skip)  # several processes: a -1 on any rank skips on every rank (before any backward)
    if skip:
        p.skip_rest_of_epoch()
        s.optim.after_batch(True, True)  # as Lightning: the schedulers step as after an epoch's last batch
        return "batch_done"
    if plan.plain:  # no accumulation in a plain plan: every batch steps
        outputs, stepped = plan.run_plain(batch, batch_idx), True
    else:
        outputs = run_training_batch(s, plan, batch, batch_idx)
        stepped = p.steps_after_this_batch()
    if s.optim.scheduler_configs:  # a callback may swap them in during fit (SWA): read each batch
        s.optim.after_batch(stepped, p.epoch_data_ended())
    p.end_batch(stepped)
    d.call("on_train_batch_end", outputs, batch, batch_idx)
    if p.clock is not None and needs_time(s.ctx):  # a time-based val_check_interval compares times now
        p.read_clock()
    return "batch_done"


def _none_batch(s, batch_idx: int) -> str:
    """The loader yielded None: the batch counts but trains nothing and steps no optimizer (as Lightning)."""
    if not s.run.plan.warned_none:  # once per fit: a loader that skips on purpose is not flooded
        s.run.plan.warned_none = True
        rank_zero_warn(NONE_BATCH_MESSAGE, category=UserWarning)
    p = s.position
    if s.optim.scheduler_configs:
        s.optim.after_batch(False, p.epoch_data_ended())
    p.end_batch(False)
    s.dispatch.call("on_train_batch_end", None, None, batch_idx)
    if p.clock is not None and needs_time(s.ctx):
        p.read_clock()
    return "batch_done"


def epoch_end(s) -> str:
    s.optim.close_batch()
    p = s.position
    p.end_epoch()
    s.dispatch.call("on_train_epoch_end")
    s.optim.close_epoch()
    p.advance_epoch()
    return "ended"


def train_end(s) -> str:
    s.optim.close_batch()
    p = s.position
    s.state.stop_reason = str(s.stop.finish(p.shape.epoch_length))
    if p.train_started:
        s.dispatch.call("on_train_end")
    s.dispatch.call("on_fit_end")
    return "ended"


ACTIONS = {
    "sanity_start": sanity_start, "sanity_batch": eval_batch, "sanity_end": sanity_end,
    "train_start": train_start, "epoch_start": epoch_start, "train_batch": train_batch,
    "val_start": val_start, "val_batch": eval_batch, "val_end": val_end,
    "epoch_end": epoch_end, "train_end": train_end,
}
