"""The error types statetrainer raises, and the one helper that words a bad flag."""
from __future__ import annotations

from typing import Any, Iterable

__all__ = ["MisconfigurationError", "MisconfigurationTypeError", "MisconfigurationRuntimeError",
           "HookSignatureError", "InvalidTransitionError", "CheckpointError", "flag_error"]


class MisconfigurationError(ValueError):
    """A flag, argument or user object is not usable as given."""


class MisconfigurationTypeError(MisconfigurationError, TypeError):
    """A flag or argument of the wrong type (a TypeError where Lightning raises one, still caught as a
    MisconfigurationError)."""


class MisconfigurationRuntimeError(MisconfigurationError, RuntimeError):
    """A setup the loop cannot run (a RuntimeError where Lightning raises one, still caught as a
    MisconfigurationError)."""


class HookSignatureError(MisconfigurationRuntimeError):
    """A step or batch hook's signature does not fit how the loop will call it."""


class InvalidTransitionError(RuntimeError):
    """The machine was asked for a trigger its current state does not allow."""

    def __init__(self, state: str, trigger: str, allowed: Iterable[str] = ()):
        self.state = state
        self.trigger = trigger
        self.allowed = sorted(set(allowed))
        hint = f"; allowed from {state!r}: {', '.join(self.allowed)}" if self.allowed else ""
        super().__init__(f"trigger {trigger!r} is not allowed from state {state!r}{hint}")


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read, is not ours, or would need unsafe unpickling."""


def flag_error(flag: str, value: Any, accepted: str, error: type = MisconfigurationError) -> Exception:
    """Build the one-sentence error: `flag X got Y; accepted: Z`."""
    return error(f"`{flag}` got {value!r}; accepted: {accepted}.")
