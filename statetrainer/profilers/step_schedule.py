"""StepSchedule: one torch.profiler schedule per kind of step (training, validation, test, predict).

torch.profiler counts steps with a single counter. A fit interleaves training and validation
steps, so the PyTorchProfiler gives torch this callable instead: it counts each kind on its
own, asks the user's schedule about that kind's count, and once a kind's window has been
saved (``RECORD_AND_SAVE``) it records no more of that kind. A fit therefore yields one trace
of training steps and one of validation steps.
"""
from __future__ import annotations

from typing import Callable

from torch.profiler import ProfilerAction

__all__ = ["StepSchedule"]


class StepSchedule:
    """Callable handed to ``torch.profiler.profile(schedule=...)``; ``begin(kind, action)`` before each step."""

    def __init__(self, schedule: Callable[[int], ProfilerAction]) -> None:
        self.schedule = schedule
        self.counts: dict[str, int] = {}
        self.saved: set[str] = set()
        self.kind: str | None = None
        self.action: str | None = None
        #: the step action whose window was last completed: the trace file is named after it
        self.saved_action: str | None = None
        self._previous: ProfilerAction | None = None

    def begin(self, kind: str, action: str) -> None:
        """The step that just ended was of `kind` (e.g. "training_step"), profiled as `action`."""
        self.kind, self.action = kind, action

    def count(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    def __call__(self, _torch_step: int) -> ProfilerAction:
        kind = self.kind
        if kind is None or kind in self.saved:
            return ProfilerAction.NONE
        self.counts[kind] = count = self.counts.get(kind, 0) + 1
        action = self.schedule(count)
        if self._previous == ProfilerAction.RECORD and action == ProfilerAction.WARMUP:
            # another kind is mid-window: keep recording rather than stop its trace half-way
            action = ProfilerAction.RECORD
        if action == ProfilerAction.RECORD_AND_SAVE:
            self.saved.add(kind)
            self.saved_action = self.action
        self._previous = action
        return action
