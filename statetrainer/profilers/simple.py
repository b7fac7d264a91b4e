"""SimpleProfiler: wall-clock time per action, reported as one table (mean, calls, total, percentage)."""
from __future__ import annotations

import os
import time

from statetrainer.profilers.profiler import Profiler

__all__ = ["SimpleProfiler"]


class SimpleProfiler(Profiler):
    """Time every action the trainer wraps: each machine state (``[State]...``), each hook call
    (``[Callback]...``, ``[StateModule]...``) and each user receiver (``[Signal]...``).

    The report lists the actions by total time, largest first, with the mean duration, the
    number of calls, the total and its share of the wall time since the profiler started (or
    since the previous report). Actions nest (a state's time includes the hooks it ran), so the
    percentages add up to more than 100.

    Args:
        dirpath, filename: write the report to a file instead of printing it (see ``Profiler``).
        extended: include the call count and percentage columns.
    """

    def __init__(self, dirpath: str | os.PathLike | None = None, filename: str | None = None,
                 extended: bool = True) -> None:
        super().__init__(dirpath=dirpath, filename=filename)
        self.extended = extended
        self.current_actions: dict[str, float] = {}
        self.recorded: dict[str, list[float]] = {}  # action -> [calls, total seconds]
        self.start_time = time.perf_counter()

    def start(self, action_name: str) -> None:
        if action_name in self.current_actions:
            raise ValueError(f"profiler action {action_name!r} was started twice without being stopped.")
        self.current_actions[action_name] = time.perf_counter()

    def stop(self, action_name: str) -> None:
        end = time.perf_counter()
        began = self.current_actions.pop(action_name, None)
        if began is None:
            raise ValueError(f"profiler action {action_name!r} was stopped but never started.")
        record = self.recorded.setdefault(action_name, [0, 0.0])
        record[0] += 1
        record[1] += end - began

    def rows(self) -> list[tuple[str, float, int, float, float]]:
        """(action, mean s, calls, total s, percent of wall time), largest total first."""
        wall = max(time.perf_counter() - self.start_time, 1e-12)
        rows = [(name, total / calls, int(calls), total, 100.0 * total / wall)
                for name, (calls, total) in self.recorded.items()]
        return sorted(rows, key=lambda row: (-row[3], row[0]))

    def summary(self) -> str:
        if not self.recorded:
            return ""
        wall = time.perf_counter() - self.start_time
        rows = self.rows()
        if self.extended:
            header = ("Action", "Mean duration (s)", "Num calls", "Total time (s)", "Percentage %")
            body = [(name, f"{mean:.5g}", str(calls), f"{total:.5g}", f"{share:.3g}")
                    for name, mean, calls, total, share in rows]
            top = ("Total", "-", str(sum(row[2] for row in rows)), f"{wall:.5g}", "100")
        else:
            header = ("Action", "Mean duration (s)", "Total time (s)")
            body = [(name, f"{mean:.5g}", f"{total:.5g}") for name, mean, _, total, _ in rows]
            top = ("Total", "-", f"{wall:.5g}")
        return self._stage_title() + os.linesep + _table(header, [top], body)

    def describe(self) -> None:
        """Report, then start counting afresh (a later run reports only its own actions)."""
        super().describe()
        self.recorded.clear()
        self.start_time = time.perf_counter()


def _table(header: tuple[str, ...], top: list[tuple[str, ...]], body: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in [header, *top, *body]) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |"

    rule = "-" * len(line(header))
    lines = [rule, line(header), rule, *map(line, top), rule, *map(line, body), rule]
    return os.linesep.join(lines) + os.linesep
