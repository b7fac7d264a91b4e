"""The trainer-state enums of Lightning's `lightning.pytorch.trainer.states`: TrainerFn, TrainerStatus, RunningStage.

Import them from `statetrainer.trainer.states` (the Lightning path) or from here; this module imports nothing
from statetrainer, so `trainer.state` can use it.

`trainer.state.fn`, `.status` and `.stage` return members of these enums. Each member is a `str`
equal to its value, so code comparing with plain strings (`trainer.state.fn == "fit"`) and code
comparing with members (`trainer.state.fn == TrainerFn.FITTING`) both work. As in Lightning the
comparison ignores case. Unlike Lightning, `str(member)` and f-strings give the value ("fit"), not
"TrainerFn.FITTING" (see docs/porting.md).
"""
from __future__ import annotations

from enum import Enum
from typing import Optional

__all__ = ["RunningStage", "StrEnum", "TrainerFn", "TrainerStatus"]


class StrEnum(str, Enum):
    """A str enum compared by value, case-insensitively, and printed as its value."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Enum):
            other = other.value
        return isinstance(other, str) and self.value.lower() == other.lower()

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.value.lower())

    __str__ = str.__str__
    __format__ = str.__format__


class TrainerStatus(StrEnum):
    """Where the trainer is in its life: before any call, inside one, or after one ended."""

    INITIALIZING = "initializing"
    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"

    @property
    def stopped(self) -> bool:
        """True once a call has ended, normally or not."""
        return self in (TrainerStatus.FINISHED, TrainerStatus.INTERRUPTED)


class TrainerFn(StrEnum):
    """The trainer method being run. TUNING is statetrainer's (Lightning 1.x had it): the tuner's calls."""

    FITTING = "fit"
    VALIDATING = "validate"
    TESTING = "test"
    PREDICTING = "predict"
    TUNING = "tune"


class RunningStage(StrEnum):
    """The loop running inside the current call (fit runs sanity_check, train and validate)."""

    TRAINING = "train"
    SANITY_CHECKING = "sanity_check"
    VALIDATING = "validate"
    TESTING = "test"
    PREDICTING = "predict"
    TUNING = "tune"

    @property
    def evaluating(self) -> bool:
        """True for the stages that run an evaluation loop (sanity check, validate, test)."""
        return self in (RunningStage.VALIDATING, RunningStage.TESTING, RunningStage.SANITY_CHECKING)

    @property
    def dataloader_prefix(self) -> Optional[str]:
        """The `<prefix>_dataloader` hook this stage reads its data from."""
        if self in (RunningStage.VALIDATING, RunningStage.SANITY_CHECKING):
            return "val"
        return self.value
