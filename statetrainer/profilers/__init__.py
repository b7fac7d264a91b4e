"""Profilers: where the time goes, per machine state, hook and signal (``Trainer(profiler=...)``)."""
from statetrainer.profilers.advanced import AdvancedProfiler
from statetrainer.profilers.flag import resolve_profiler
from statetrainer.profilers.profiler import PassThroughProfiler, Profiler
from statetrainer.profilers.simple import SimpleProfiler

__all__ = ["AdvancedProfiler", "PassThroughProfiler", "Profiler", "SimpleProfiler", "resolve_profiler"]
