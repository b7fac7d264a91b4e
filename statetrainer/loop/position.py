"""Where the loops are: the one owner of the counters, the phase inside an epoch, the RNG snapshots
and the stepping rule. It saves and restores itself; a checkpoint stores it whole.

Phases (what the last completed piece of work was):

    between_epochs  no epoch is open (before the first, or after an epoch's end hooks)
    in_epoch        on_train_epoch_start ran; no batch finished yet
    batch_running   a training batch was fetched and has not reached on_train_batch_end
    batch_done      a batch finished; its validate/continue decision is still to be taken
    validating      a validation run inside fit is under way (started from `batch_done`)
    validated       that validation produced its metrics (on_validation_end may be running)
    epoch_ending    on_train_epoch_end is running or ran; the epoch counter moves on next

A checkpoint taken in the middle of a piece of work describes the last consistent point before
it: inside a batch, the position before that batch; inside a validation (or the sanity check), the
position before it with the random state it started from. `state_dict()` applies that rule, so
every writer — ModelCheckpoint, `trainer.save_checkpoint`, the interrupt handler — gets it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

from statetrainer.loop import rng

__all__ = ["Position", "EpochShape", "MID_EPOCH"]

MID_EPOCH = ("in_epoch", "batch_running", "batch_done", "validating", "validated")
_COUNTERS = ("epoch", "epochs_processed", "global_step", "batch_idx", "batches_seen", "total_batch_idx",
             "is_last_batch", "epoch_skipped")


@dataclass
class EpochShape:
    """The numbers an epoch is cut by, known once the data is (set for each run, never saved)."""

    validation_enabled: bool = False
    sanity_steps: float = 0
    check_val_every_n_epoch: Optional[int] = 1
    val_check_batch: float = math.inf
    epoch_length: float = math.inf          # num_training_batches
    val_check_seconds: Optional[float] = None   # time-based val_check_interval: training seconds between validations


class Position:
    """Counters (`epoch` is `trainer.current_epoch`; `epochs_processed` counts epochs whose end was
    reached), the phase, the deferred close of the last batch, RNG snapshots, resume intent."""

    def __init__(self, accumulation: Callable[[int], int] = lambda epoch: 1):
        self.epoch = 0
        self.epochs_processed = 0
        self.global_step = 0
        self.batch_idx = -1             # index of the current training batch in its epoch
        self.batches_seen = 0           # training batches fetched this epoch
        self.total_batch_idx = -1       # training batches across epochs, minus one
        self.is_last_batch = False
        self.epoch_skipped = False      # on_train_batch_start returned -1
        self.phase = "between_epochs"
        self.close_pending = False      # the last batch's deferred scheduler steps have not run yet
        self.batch_stepped = False      # the last batch stepped the optimizer
        self.step_at_batch_start = 0
        self.phase_before_batch = "in_epoch"
        self.evaluating: Optional[str] = None     # "sanity_check" / "validation" while one runs in fit
        self.train_started = False                # on_train_start ran in this fit (on_train_end follows it)
        self.shape = EpochShape()
        self.accumulation = accumulation
        self.rng_epoch_start: Optional[dict] = None
        self.rng_eval_start: Optional[dict] = None
        self.resuming: Optional[str] = None       # set by load_state_dict: the phase a resume continues from
        self.resume_rng: Optional[dict] = None    # the random state of the saved point, applied by the resume
        self.replay_exact = True                  # False: the point saved lies after an interrupted batch
        self.signal_counts: dict[str, int] = {}   # firings of signals that have filtered receivers
        self.once_fired: set[str] = set()         # `trainer.on(..., once=True)` receivers that already ran
        self.clock: Optional[Callable[[], float]] = None   # set for a run with a time-based val_check_interval
        self.last_val_time = 0.0                  # clock reading when training (re)started or a validation ended
        self.batch_end_time = 0.0                 # clock reading at the end of the last batch (when it was needed)

    # ------------------------------------------------------------------ the stepping rule
    def steps_after_this_batch(self) -> bool:
        """The optimizer steps after the current batch: it ends an accumulation group, or the epoch
        (the last, indivisible group steps too). The one definition of this rule."""
        k = self.accumulation(self.epoch)
        return (self.batch_idx + 1) % k == 0 or self.is_last_batch or self.batches_seen >= self.shape.epoch_length

    def accumulates(self) -> int:
        return self.accumulation(self.epoch)

    def epoch_data_ended(self) -> bool:
        return self.is_last_batch or self.batches_seen >= self.shape.epoch_length

    # ------------------------------------------------------------------ moving
    def start_epoch(self) -> None:
        self.batch_idx = -1
        self.batches_seen = 0
        self.is_last_batch = False
        self.epoch_skipped = False
        self.phase = "in_epoch"

    def remember_epoch_start(self) -> None:
        """The random state the epoch's data order is drawn from (after on_train_epoch_start ran)."""
        self.rng_epoch_start = rng.capture()

    def begin_batch(self, last: bool) -> int:
        """A training batch was fetched; returns its index in the epoch."""
        self.phase_before_batch = self.phase
        self.phase = "batch_running"
        self.step_at_batch_start = self.global_step
        self.batch_idx += 1
        self.total_batch_idx += 1
        self.batches_seen += 1
        self.is_last_batch = last
        return self.batch_idx

    def skip_rest_of_epoch(self) -> None:
        """on_train_batch_start returned -1: the batch did not run and the epoch ends (it counts as the
        epoch's last batch, as in Lightning)."""
        self.epoch_skipped = True
        self.is_last_batch = True
        self.phase = "batch_done"
        self.batch_stepped = False
        self.close_pending = False

    def new_run(self) -> None:
        """A trainer call starts: nothing of the previous call's transient state carries over."""
        self.evaluating = None
        self.rng_eval_start = None
        self.train_started = False
        self.resuming = None
        self.resume_rng = None

    def end_batch(self, stepped: bool) -> None:
        self.phase = "batch_done"
        self.batch_stepped = stepped
        self.close_pending = True

    def take_close(self) -> bool:
        """The last batch's deferred close is due now (once): True when it stepped the optimizer."""
        if not self.close_pending:
            return False
        self.close_pending = False
        return self.batch_stepped

    def begin_eval(self, kind: str) -> None:
        """A sanity check or a validation run inside fit starts: remember the random state it starts from."""
        self.evaluating = kind
        self.rng_eval_start = rng.capture()
        if kind == "validation":
            self.phase = "validating"

    def eval_produced(self) -> None:
        """The in-fit validation computed its metrics: a checkpoint from now on follows it."""
        if self.evaluating == "validation":
            self.phase = "validated"

    # ------------------------------------------------------------------ time-based validation
    def restart_clock(self) -> None:
        """The training data was (re)loaded: training time counts from now (as Lightning)."""
        if self.clock is not None:
            self.last_val_time = self.clock()

    def read_clock(self) -> None:
        """A batch ended and the time-based validation check needs the time (the loop asks only then)."""
        self.batch_end_time = self.clock()

    def seconds_since_validation(self) -> float:
        return self.batch_end_time - self.last_val_time

    def end_eval(self) -> None:
        if self.clock is not None:
            self.last_val_time = self.clock()
        if self.evaluating == "sanity_check":
            rng.restore(self.rng_eval_start)  # the sanity check leaves the random state as it found it
        self.evaluating = None
        self.rng_eval_start = None

    def end_epoch(self) -> None:
        """on_train_epoch_end is about to run."""
        self.epochs_processed += 1
        self.phase = "epoch_ending"

    def advance_epoch(self) -> None:
        """After the epoch's end hooks: the next epoch is the current one."""
        self.epoch += 1
        self.phase = "between_epochs"

    def finish_pending_epoch(self) -> None:
        """Resumed from a checkpoint taken in on_train_epoch_end: that epoch is over (Lightning moves the
        counter when training starts, after the sanity check)."""
        if self.phase == "epoch_ending":
            self.advance_epoch()

    @property
    def mid_epoch(self) -> bool:
        return self.phase in MID_EPOCH

    # ------------------------------------------------------------------ filters of trainer.on
    def count_signal(self, name: str) -> int:
        self.signal_counts[name] = count = self.signal_counts.get(name, 0) + 1
        return count

    # ------------------------------------------------------------------ saving and restoring
    def counters(self) -> dict[str, Any]:
        """The counters and the phase as they are now (a tuner puts them back after its trials)."""
        return {name: getattr(self, name) for name in (*_COUNTERS, "phase")}

    def set_counters(self, counters: dict[str, Any]) -> None:
        for name, value in counters.items():
            setattr(self, name, value)

    def consistent_point(self) -> tuple[dict[str, Any], dict, bool]:
        """(counters and phase, random state, exact) of the last consistent point (see the module doc)."""
        fields = {name: getattr(self, name) for name in _COUNTERS}
        fields.update(phase=self.phase, close_pending=self.close_pending, batch_stepped=self.batch_stepped)
        exact = True
        if self.phase == "batch_running":
            exact = False  # the batch had begun: what it drew from the random generators is not replayed
            if self.global_step == self.step_at_batch_start:  # it has not stepped: resume re-runs it whole
                fields.update(batch_idx=self.batch_idx - 1, batches_seen=self.batches_seen - 1,
                              total_batch_idx=self.total_batch_idx - 1, is_last_batch=False,
                              phase=self.phase_before_batch, close_pending=False)
            else:  # it stepped but did not reach on_train_batch_end
                fields.update(phase="batch_done", close_pending=True, batch_stepped=True)
        if self.evaluating == "sanity_check" or self.phase == "validating":
            if self.phase == "validating":
                fields["phase"] = "batch_done"  # the validation runs again, from the random state it began with
            return fields, self.rng_eval_start, exact
        return fields, rng.capture(), exact

    def state_dict(self) -> dict[str, Any]:
        fields, random_state, exact = self.consistent_point()
        return {"counters": fields, "rng": random_state, "rng_epoch_start": self.rng_epoch_start,
                "exact": exact and self.replay_exact, "signal_counts": dict(self.signal_counts),
                "once_fired": sorted(self.once_fired)}

    def abandon_running_work(self) -> None:
        """An interrupt arrived inside a piece of work: go back to the last consistent point (what a
        checkpoint written now must describe, and what `trainer.global_step` etc. then read)."""
        fields, random_state, exact = self.consistent_point()
        for name, value in fields.items():
            setattr(self, name, value)
        if not exact:
            self.replay_exact = False
        if self.evaluating is not None:
            rng.restore(random_state)
            self.evaluating = None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        counters = state.get("counters", {})
        for name in (*_COUNTERS, "phase", "close_pending", "batch_stepped"):
            if name in counters:
                setattr(self, name, counters[name])
        self.rng_epoch_start = state.get("rng_epoch_start")
        self.replay_exact = bool(state.get("exact", True))
        self.signal_counts.update(state.get("signal_counts", {}))  # in place: the dispatcher holds it
        self.once_fired.update(state.get("once_fired", ()))
        self.resuming = self.phase
        self.resume_rng = state.get("rng")

    def apply_resume_rng(self) -> None:
        """Put the random state of the saved point back (once the data was replayed up to it)."""
        if self.resume_rng is not None:
            rng.restore(self.resume_rng)
            self.resume_rng = None

    def describe(self) -> str:
        """`epoch E, step S, batch B` for the resume and interrupt lines."""
        batch = self.batches_seen if self.mid_epoch else 0
        return f"epoch {self.epoch}, step {self.global_step}, batch {batch}"
