"""Profilers: where the time goes, per machine state, hook, signal and loop step (``Trainer(profiler=...)``).

The names of the actions they time are in ``statetrainer.profilers.actions``.
"""
from statetrainer.profilers.advanced import AdvancedProfiler
from statetrainer.profilers.flag import resolve_profiler
from statetrainer.profilers.profiler import PassThroughProfiler, Profiler
from statetrainer.profilers.pytorch import PyTorchProfiler
from statetrainer.profilers.simple import SimpleProfiler

__all__ = ["AdvancedProfiler", "PassThroughProfiler", "Profiler", "PyTorchProfiler", "SimpleProfiler",
           "resolve_profiler"]
