"""The stop rules: max_steps, max_epochs, max_time and should_stop subject to min_steps/min_epochs.

A stop is a StopReason with numbers, never a mutated limit. Listeners *request* (`should_stop`,
with an optional sentence through `explain`); the guards ask `decide()`, which grants or refuses.
With several processes the driver calls `agree()` at each decision point (one all-reduce), so a
request made on any rank is a request on every rank before a guard reads it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["StopReason", "StopRules"]


@dataclass(frozen=True)
class StopReason:
    rule: str
    sentence: str

    def __str__(self) -> str:
        return self.sentence


class StopRules:
    """Evaluates the stop rules against the loop progress; records the reason that ended fit."""

    def __init__(self, position, max_epochs: int, max_steps: int, min_epochs: Optional[int],
                 min_steps: Optional[int]):
        self.position = position
        self.max_epochs = max_epochs
        self.max_steps = max_steps
        self.min_epochs = min_epochs
        self.min_steps = min_steps
        self.should_stop = False
        self._explanation: Optional[str] = None
        self._first: Optional[StopReason] = None  # the reason as worded when a guard first saw it hold
        self.granted: Optional[StopReason] = None
        self._ranks = None  # the strategy while a multi-process call runs (see `agree`)
        self.across_ranks = False  # read per batch: a plain attribute
        self._agreed = False  # every rank knows of the stop request in force

    # ------------------------------------------------------------------ several processes
    def use_ranks(self, strategy) -> None:
        """A call with several processes starts (`strategy`), or one with a single process (None)."""
        self._ranks = strategy
        self.across_ranks = strategy is not None

    def agree(self, interrupt: bool = False) -> bool:
        """One all-reduce at a decision point: a stop requested on any rank becomes a request on every rank
        (worded as the lowest requesting rank worded it), so the guards decide the same everywhere. Returns
        whether any rank has an interrupt (Ctrl-C, SIGTERM) pending."""
        from statetrainer.strategies import collectives
        world, rank = self._ranks.world_size, self._ranks.global_rank
        votes = collectives.vote([world - rank if self.should_stop else 0, int(interrupt)], self._ranks.root_device)
        if not votes[0]:
            self._agreed = False
        elif not self._agreed:  # a new request: the other ranks word it as the lowest requesting rank did
            self._agreed = True
            first = world - votes[0]
            sentence = collectives.broadcast_object(self._explanation, src=first)
            if not self.should_stop:
                self.should_stop = True
                self._explanation = f"{sentence or 'trainer.should_stop was set to True'} on rank {first}"
        return bool(votes[1])

    def any_rank(self, decision: bool) -> bool:
        """True on every rank when `decision` is True on any (a -1 from on_train_batch_start skips everywhere)."""
        from statetrainer.strategies import collectives
        return bool(collectives.vote([int(decision)], self._ranks.root_device)[0])

    def request(self, value: bool) -> None:
        self.should_stop = bool(value)
        if not value:
            self._explanation = None
            self._first = None

    def explain(self, sentence: str) -> None:
        """Say why the current stop request was made (used in `state.stop_reason` if granted)."""
        self._explanation = sentence

    def min_met(self) -> bool:
        p = self.position
        epochs_ok = not self.min_epochs or p.epochs_processed >= self.min_epochs
        steps_ok = not self.min_steps or p.global_step >= self.min_steps
        return epochs_ok and steps_ok

    def should_stop_granted(self) -> bool:
        return self.should_stop and self.min_met()

    def decide(self, in_epoch: bool = False) -> Optional[StopReason]:
        """The rule that ends training now, or None. `in_epoch`: only rules that end an epoch early.

        The first reason seen is kept, so `stop_reason` names the epoch in which the stop happened
        (not the epoch counter after the last epoch end)."""
        if in_epoch and not self.should_stop and (self.max_steps == -1 or self.position.global_step < self.max_steps):
            return None  # the per-batch answer, without building any reason
        reason = self._rule_now(in_epoch)
        if reason is not None and self._first is None:
            self._first = reason
        return reason

    def _rule_now(self, in_epoch: bool) -> Optional[StopReason]:
        p = self.position
        if self.max_steps != -1 and p.global_step >= self.max_steps:
            return StopReason("max_steps", f"max_steps={self.max_steps} reached at global_step={p.global_step} "
                                           f"({self._where(in_epoch)}).")
        if not in_epoch and self.max_epochs != -1 and p.epochs_processed >= self.max_epochs:
            return StopReason("max_epochs", f"max_epochs={self.max_epochs} reached: {p.epochs_processed} epochs "
                                            f"completed, global_step={p.global_step}.")
        if self.should_stop_granted():
            return StopReason("should_stop", self._granted_sentence(in_epoch))
        return None

    def _where(self, in_epoch: bool) -> str:
        """Where training stands, epochs counted from 0 as the progress bar ("Epoch 3") and
        EarlyStopping.stopped_epoch count them: inside epoch e, or at the boundary after it."""
        epoch = self.position.epoch
        if in_epoch:
            return f"epoch {epoch}"
        return f"the end of epoch {epoch - 1}" if epoch > 0 else "the start of training"

    def _granted_sentence(self, in_epoch: bool) -> str:
        p = self.position
        why = self._explanation or "trainer.should_stop was set to True"
        mins = []
        if self.min_epochs:
            mins.append(f"min_epochs={self.min_epochs}")
        if self.min_steps:
            mins.append(f"min_steps={self.min_steps}")
        met = f" once {' and '.join(mins)} were met" if mins else ""
        return f"stop requested ({why}); granted{met} at {self._where(in_epoch)}, global_step={p.global_step}."

    def finish(self, num_training_batches) -> StopReason:
        """The reason recorded when fit ends normally."""
        if num_training_batches == 0:
            self.granted = StopReason("no_batches", "no training batches (num_training_batches=0).")
        else:
            now, first = self.decide(), self._first
            self.granted = first if now is not None and first is not None and first.rule == now.rule else now
            self.granted = self.granted or StopReason(
                "data", f"training data ended at {self._where(False)}, global_step={self.position.global_step}.")
        return self.granted
