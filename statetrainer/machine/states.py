"""State names and what each one means for Lightning's (fn, status, stage) fields."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StateInfo", "TERMINAL", "FN_VALUES", "STATUS_VALUES", "STAGE_VALUES"]

FN_VALUES = ("fit", "validate", "test", "predict", "tune")
STATUS_VALUES = ("initializing", "running", "finished", "interrupted")
STAGE_VALUES = ("train", "sanity_check", "validate", "test", "predict", "tune")
TERMINAL = frozenset({"finished", "interrupted", "failed"})


@dataclass(frozen=True)
class StateInfo:
    """One state: its name, the stage it implies (None = the stage of the running fn), the
    signals its action emits in order (documentation and, for simple states, the action itself)."""

    name: str
    stage: str | None
    signals: tuple[str, ...]
    doc: str

    @property
    def terminal(self) -> bool:
        return self.name in TERMINAL
