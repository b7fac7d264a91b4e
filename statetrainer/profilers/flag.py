"""``Trainer(profiler=...)``: the flag's accepted values and the profiler each one gives."""
from __future__ import annotations

from typing import Any

from statetrainer.errors import flag_error
from statetrainer.profilers.advanced import AdvancedProfiler
from statetrainer.profilers.profiler import PassThroughProfiler, Profiler
from statetrainer.profilers.pytorch import PyTorchProfiler
from statetrainer.profilers.simple import SimpleProfiler

__all__ = ["resolve_profiler"]

_BY_NAME = {"simple": SimpleProfiler, "advanced": AdvancedProfiler, "pytorch": PyTorchProfiler}


def resolve_profiler(value: Any) -> Profiler:
    """None -> PassThroughProfiler, "simple"/"advanced"/"pytorch" (any case) -> a new one, a Profiler -> itself."""
    if value is None:
        return PassThroughProfiler()
    if isinstance(value, Profiler):
        return value
    if isinstance(value, str) and value.lower() in _BY_NAME:
        return _BY_NAME[value.lower()]()
    raise flag_error("profiler", value, '"simple", "advanced", "pytorch", a Profiler instance or None')
