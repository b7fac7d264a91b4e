"""Named predicates the table's transitions (and the loop actions) refer to.

Each guard is a pure function of the loop context `ctx` (statetrainer/loop/context.py): the
position (`ctx.position`: counters, phase, the epoch's shape, the stepping rule), the stop rules
over it (`ctx.stop`), the run's `fn`, the ranks (read from the strategy when asked) and whether the
running evaluation has another batch (`ctx.eval_has_next()`). No torch here.
"""
from __future__ import annotations

import math

__all__ = ["GUARDS", "validation_epoch", "needs_time", "should_validate_now", "epoch_done", "fit_done", "accumulation_boundary",
           "is_global_zero", "is_local_zero", "prepares_data", "resumes_mid_epoch", "decision_pending"]


def is_fit(ctx) -> bool:
    return ctx.fn == "fit"


def is_evaluating(ctx) -> bool:
    return ctx.fn in ("validate", "test")


def is_predicting(ctx) -> bool:
    return ctx.fn == "predict"


def has_sanity_steps(ctx) -> bool:
    return ctx.position.shape.sanity_steps > 0 and ctx.position.shape.validation_enabled


def resumes_mid_epoch(ctx) -> bool:
    """fit continues an epoch a checkpoint was taken in: no sanity check, no on_train_epoch_start."""
    return ctx.position.resuming is not None and ctx.position.mid_epoch


def decision_pending(ctx) -> bool:
    """The last trained batch's validate/continue decision has not been taken yet (a resume)."""
    return ctx.position.phase == "batch_done"


def has_eval_batches(ctx) -> bool:
    return ctx.eval_has_next()


has_predict_batches = has_eval_batches


def stop_granted(ctx) -> bool:
    """A stop rule holds now (max_steps, max_epochs, or a granted should_stop)."""
    return ctx.stop.decide() is not None


def validation_epoch(ctx) -> bool:
    """This epoch validates (check_val_every_n_epoch), if validation is enabled at all."""
    shape = ctx.position.shape
    every = shape.check_val_every_n_epoch
    return shape.validation_enabled and (every is None or (ctx.position.epoch + 1) % every == 0)


def needs_time(ctx) -> bool:
    """The time-based validation check will compare times after this batch: the loop reads the clock
    for it (only then, so a run reads no clock it does not need)."""
    p = ctx.position
    return not p.epoch_skipped and validation_epoch(ctx) and not ctx.stop.should_stop_granted()


def should_validate_now(ctx) -> bool:
    """Validation runs after this batch (Lightning's val_check_interval / check_val_every_n_epoch rule;
    with a time-based interval: once that much time passed since training started or validation ended)."""
    p = ctx.position
    c = p.shape
    every = c.check_val_every_n_epoch
    if p.epoch_skipped or not c.validation_enabled or (every is not None and (p.epoch + 1) % every):
        return False  # validation_epoch(ctx), inline: this guard runs after every batch
    if c.val_check_seconds is not None:
        return ctx.stop.should_stop_granted() or p.seconds_since_validation() >= c.val_check_seconds
    if p.is_last_batch and math.isinf(c.val_check_batch):
        return True
    if ctx.stop.should_stop and ctx.stop.should_stop_granted():
        return True
    if math.isinf(c.val_check_batch):
        return p.is_last_batch
    counter = p.total_batch_idx if c.check_val_every_n_epoch is None else p.batch_idx
    return (counter + 1) % c.val_check_batch == 0


def epoch_done(ctx) -> bool:
    """The training epoch ends: data exhausted, -1 from on_train_batch_start, or a stop rule."""
    p = ctx.position
    if ctx.stop.decide(in_epoch=True) is not None:  # first: a stop on the last batch is worded in its epoch
        return True
    return p.epoch_skipped or p.is_last_batch or p.batches_seen >= p.shape.epoch_length


def fit_done(ctx) -> bool:
    """fit ends: no training batches, max_steps, max_epochs, or a granted stop request."""
    return ctx.position.shape.epoch_length == 0 or ctx.stop.decide() is not None


def accumulation_boundary(ctx) -> bool:
    """This batch ends an accumulation group: the optimizer steps (the last indivisible group too)."""
    return ctx.position.steps_after_this_batch()


def is_global_zero(ctx) -> bool:
    return ctx.ranks.global_rank == 0


def is_local_zero(ctx) -> bool:
    return ctx.ranks.local_rank == 0


def prepares_data(ctx) -> bool:
    """prepare_data runs on local rank 0, or only on global rank 0 when prepare_data_per_node=False."""
    if ctx.prepare_data_per_node:
        return ctx.ranks.local_rank == 0
    return ctx.ranks.global_rank == 0


GUARDS = {fn.__name__: fn for fn in (is_fit, is_evaluating, is_predicting, has_sanity_steps, has_eval_batches,
                                    stop_granted, should_validate_now, epoch_done, fit_done,
                                    accumulation_boundary, is_global_zero, is_local_zero, prepares_data,
                                    resumes_mid_epoch, decision_pending)}
GUARDS["has_predict_batches"] = has_predict_batches
