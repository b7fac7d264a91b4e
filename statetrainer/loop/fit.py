"""The fit states' actions: sanity check, training start, epochs, batches, validation, end.

Each action does its state's work and returns the trigger; the table's guards pick where it leads.
"""
from __future__ import annotations

import math

from statetrainer.errors import MisconfigurationError
from statetrainer.loop import rng
from statetrainer.loop.data import Fetcher, count_batches, set_sampler_epoch, without_shuffle
from statetrainer.loop.evaluation import EvalRun
from statetrainer.loop.optim_step import step_schedulers
from statetrainer.loop.training import run_training_batch
from statetrainer.machine.guards import validation_epoch

__all__ = ["ACTIONS"]


# ------------------------------------------------------------------------------------ validation
def _val_loaders(s) -> tuple[list, list]:
    if s.val_loaders is None or _reload_due(s, "val"):
        loaders = s.sources.load("val")
        if s.config.overfit_batches:
            loaders = [without_shuffle(dl) for dl in loaders]
        s.val_loaders = loaders
        s.val_loaded_epoch = s.progress.epoch
        s.val_limits = [count_batches(dl, s.config.limits["val"], "limit_val_batches") for dl in loaders]
    return s.val_loaders, s.val_limits


def _start_eval(s, kind: str, stage: str, limits_cap: float = math.inf, zero_grad: bool = False) -> str:
    if zero_grad:
        s.dispatch.call_module("on_validation_model_zero_grad")
    loaders, limits = _val_loaders(s)
    limits = [min(limit, limits_cap) for limit in limits]
    s.eval_run = EvalRun(s, kind, stage, loaders, limits, inference=False)
    s.ctx.eval_has_next = s.eval_run.has_next
    s.eval_run.start()
    return "started"


def sanity_start(s) -> str:
    s.sanity_rng = rng.capture()  # the sanity check leaves the random state as it found it
    s.dispatch.call("on_sanity_check_start")
    return _start_eval(s, "validation", "sanity_check", s.config.num_sanity_val_steps)


def eval_batch(s) -> str:
    s.eval_run.run_batch()
    return "batch_done"


def sanity_end(s) -> str:
    s.eval_run.end()
    s.dispatch.call("on_sanity_check_end")
    rng.restore(s.sanity_rng)
    return "ended"


def val_start(s) -> str:
    k = s.ctx.config.accumulate_grad_batches(s.progress.epoch)
    stepped = (s.progress.batch_idx + 1) % k == 0 or s.progress.is_last_batch
    return _start_eval(s, "validation", "validate", zero_grad=stepped)


def val_end(s) -> str:
    s.eval_run.end()
    close_batch(s)
    return "ended"


# ------------------------------------------------------------------------------------ training
def _reload_due(s, kind: str) -> bool:
    n = s.config.reload_dataloaders_every_n_epochs
    last = s.train_loaded_epoch if kind == "train" else s.val_loaded_epoch
    return bool(n) and last is not None and s.progress.epoch - last >= n


def _load_train(s) -> None:
    loader = s.sources.load("train")[0]
    if s.config.overfit_batches:
        loader = without_shuffle(loader)
    s.train_loader = loader
    s.train_loaded_epoch = s.progress.epoch
    n = count_batches(loader, s.config.limits["train"], "limit_train_batches")
    cfg = s.ctx.config
    cfg.num_training_batches = n
    vci = s.config.val_check_interval
    if isinstance(vci, int):
        if vci > n and s.config.check_val_every_n_epoch is not None:
            raise MisconfigurationError(
                f"`val_check_interval` got {vci}, more than the {n} training batches of an epoch; accepted: an int "
                "<= the batches per epoch, a float fraction, or check_val_every_n_epoch=None to count across epochs.")
        cfg.val_check_batch = vci
    elif math.isinf(n):
        if vci != 1.0:
            raise MisconfigurationError(
                f"`val_check_interval` got {vci} but the training loader has no length; accepted: an int number of "
                "batches, or 1.0 with check_val_every_n_epoch.")
        cfg.val_check_batch = math.inf
    else:
        cfg.val_check_batch = max(1, int(n * vci))


def train_start(s) -> str:
    _load_train(s)
    if s.ctx.config.num_training_batches == 0 or s.stop.decide() is not None:
        s.training_skipped = True  # as Lightning: no on_train_start/end when a rule already holds
        return "started"
    if validation_epoch(s.ctx) and s.val_loaders is None:
        _val_loaders(s)  # Lightning loads the validation data before on_train_start when it will validate
    s.metrics.begin_run("train")
    s.dispatch.call("on_train_start")
    return "started"


def epoch_start(s) -> str:
    p = s.progress
    if _reload_due(s, "train"):
        _load_train(s)
    set_sampler_epoch(s.train_loader, p.epochs_processed)
    skip = p.resume_skip
    p.resume_skip = 0
    if skip:  # resume mid-epoch: replay the sampler from the epoch's start
        rng.restore(s.resume["rng_epoch_start"])
    else:
        p.start_epoch()
        s.dispatch.call("on_train_epoch_start")
    s.epoch_rng = rng.capture()
    s.fetcher = Fetcher(s.train_loader, s.ctx.config.num_training_batches, skip)
    if skip:
        rng.restore(s.resume["rng"])
    if not s.fetcher.has_next() and not p.is_last_batch:
        p.epoch_skipped = True
    if skip and not s.resume_decided:
        s.resume_decided = True
        return "resumed"  # the last trained batch's validate/continue decision was still to be taken
    return "started"


def close_batch(s) -> None:
    """What follows a batch and its validation: plateau schedulers on steps, the logging step counter."""
    if not s.batch_open:
        return
    s.batch_open = False
    if s.batch_stepped:
        step_schedulers(s, "step", True, s.progress.batch_idx)


def train_batch(s) -> str:
    close_batch(s)
    p = s.progress
    try:
        batch = s.fetch_train(s.fetcher)
    except StopIteration:
        p.is_last_batch = True
        return "exhausted"
    s.batch_running, s.step_at_batch_start = True, p.global_step
    p.batch_idx += 1
    p.total_batch_idx += 1
    p.batches_seen += 1
    p.is_last_batch = s.fetcher.done
    batch_idx = p.batch_idx
    batch = s.transfer(batch, 0)
    s.metrics.begin_batch(batch, batch_idx, 0, 1)
    if s.dispatch.call("on_train_batch_start", batch, batch_idx) == -1:
        p.epoch_skipped = True
        return "batch_done"
    outputs = run_training_batch(s, batch, batch_idx)
    k = s.ctx.config.accumulate_grad_batches(p.epoch)
    ready = p.is_last_batch or p.batches_seen >= s.ctx.config.num_training_batches
    s.batch_stepped = (batch_idx + 1) % k == 0 or ready
    if s.batch_stepped:
        step_schedulers(s, "step", False, batch_idx)
    if ready:
        step_schedulers(s, "epoch", False, p.epoch)
    s.batch_open = True
    s.dispatch.call("on_train_batch_end", outputs, batch, batch_idx)
    s.batch_running = False
    s.metrics.end_batch("train", p.global_step, p.epoch, p.is_last_batch, stepped=s.batch_stepped)
    return "batch_done"


def epoch_end(s) -> str:
    close_batch(s)
    p = s.progress
    p.epochs_processed += 1
    s.metrics.epoch_end_reached("train")
    s.dispatch.call("on_train_epoch_end")
    s.metrics.end_epoch("train", p.global_step, p.epoch)
    if p.is_last_batch or p.batches_seen >= s.ctx.config.num_training_batches:
        step_schedulers(s, "epoch", True, p.epoch)
    p.epoch += 1
    return "ended"


def train_end(s) -> str:
    close_batch(s)
    s.state.stop_reason = str(s.stop.finish(s.ctx.config.num_training_batches))
    if not s.training_skipped:
        s.dispatch.call("on_train_end")
        s.metrics.end_run("train")
    s.dispatch.call("on_fit_end")
    return "ended"


ACTIONS = {
    "sanity_start": sanity_start, "sanity_batch": eval_batch, "sanity_end": sanity_end,
    "train_start": train_start, "epoch_start": epoch_start, "train_batch": train_batch,
    "val_start": val_start, "val_batch": eval_batch, "val_end": val_end,
    "epoch_end": epoch_end, "train_end": train_end,
}
