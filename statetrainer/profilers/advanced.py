"""AdvancedProfiler: one cProfile per action; the report shows each action's top functions."""
from __future__ import annotations

import io
import os

from statetrainer.profilers.profiler import Profiler

__all__ = ["AdvancedProfiler"]


class AdvancedProfiler(Profiler):
    """Run Python's cProfile while each action runs and report its most expensive functions.

    Nested actions are attributed to the innermost one: starting an action pauses the enclosing
    action's profile, and stopping it resumes that profile.

    Args:
        dirpath, filename: write the report to a file instead of logging it (see ``Profiler``).
        line_count_restriction: how many functions to list per action: an int, or a fraction in
            (0, 1] of them. Default 20 (Lightning's default, 1.0, lists every function).
        dump_stats: also write each action's raw stats to ``<dirpath>/<stage>-<filename>-<action>.prof``
            (the parts present; readable with ``pstats`` or snakeviz); needs a ``dirpath`` (or a trainer
            log_dir).
        sort_by: the pstats sort key (``"cumulative"``, ``"tottime"``, ``"ncalls"``...).
    """

    def __init__(self, dirpath: str | os.PathLike | None = None, filename: str | None = None,
                 line_count_restriction: float = 20, dump_stats: bool = False, sort_by: str = "cumulative") -> None:
        super().__init__(dirpath=dirpath, filename=filename)
        self.profiled_actions: dict[str, "cProfile.Profile"] = {}
        self.line_count_restriction = line_count_restriction
        self.dump_stats = dump_stats
        self.sort_by = sort_by
        self._active: list[str] = []

    def start(self, action_name: str) -> None:
        if self._active:
            self.profiled_actions[self._active[-1]].disable()
        self._active.append(action_name)
        import cProfile  # here, not at import: most runs never profile
        self.profiled_actions.setdefault(action_name, cProfile.Profile()).enable()

    def stop(self, action_name: str) -> None:
        if action_name not in self._active:
            raise ValueError(f"profiler action {action_name!r} was stopped but never started.")
        self.profiled_actions[action_name].disable()
        position = len(self._active) - 1 - self._active[::-1].index(action_name)
        del self._active[position]
        if self._active and position == len(self._active):
            self.profiled_actions[self._active[-1]].enable()

    def action_report(self, action_name: str) -> str:
        """The pstats listing of one action's top functions."""
        stream = io.StringIO()
        import pstats
        stats = pstats.Stats(self.profiled_actions[action_name], stream=stream)
        stats.strip_dirs().sort_stats(self.sort_by).print_stats(self.line_count_restriction)
        return stream.getvalue()

    def summary(self) -> str:
        if not self.profiled_actions:
            return ""
        parts = [self._stage_title()]
        rank = f" rank: {self._local_rank}" if self._local_rank is not None else ""
        for action_name in self.profiled_actions:
            if self.dump_stats:
                self._dump(action_name)
            parts += [f"Profile stats for: {action_name}{rank}", self.action_report(action_name)]
        return os.linesep.join(parts)

    def _dump(self, action_name: str) -> None:
        if not self.dirpath:
            raise ValueError("AdvancedProfiler(dump_stats=True) got dirpath=None; accepted: a folder "
                             "(or a trainer with a log_dir).")
        os.makedirs(self.dirpath, exist_ok=True)
        self.profiled_actions[action_name].dump_stats(self.report_path(action_name, extension=".prof"))

    def teardown(self, stage: str | None) -> None:
        super().teardown(stage)
        for profile in self.profiled_actions.values():
            profile.disable()
        self.profiled_actions.clear()
        self._active.clear()

    def __reduce__(self) -> tuple:
        return (type(self), (self.dirpath, self.filename, self.line_count_restriction, self.dump_stats, self.sort_by))
