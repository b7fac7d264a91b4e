"""SimpleProfiler: wall-clock time per action, reported as one table (mean, calls, total, percentage)."""
from __future__ import annotations

import math
import os
import time
from collections import defaultdict

from statetrainer.profilers.profiler import Profiler

__all__ = ["SimpleProfiler"]

_CELL = 15  # width of the number columns, before the tab that aligns them


class SimpleProfiler(Profiler):
    """Time every action the trainer wraps: each machine state (``[State]...``), each hook call
    (``[Callback]...``, ``[StateModule]...``), each user receiver (``[Signal]...``) and the loop's
    own work (fetching batches, batch transfer, backward, optimizer step, zero_grad).

    ``recorded_durations`` maps each action to the list of its durations in seconds. The report
    lists the actions by total time, largest first, with the mean duration, the number of calls,
    the total and its share of the wall time since the run started. Actions nest (a state's time
    includes the hooks it ran), so the percentages add up to more than 100.

    Args:
        dirpath, filename: write the report to a file instead of logging it (see ``Profiler``).
        extended: include the call count and percentage columns (and the Total row).
    """

    def __init__(self, dirpath: str | os.PathLike | None = None, filename: str | None = None,
                 extended: bool = True) -> None:
        super().__init__(dirpath=dirpath, filename=filename)
        self.extended = extended
        self.current_actions: dict[str, float] = {}
        self.recorded_durations: defaultdict[str, list[float]] = defaultdict(list)
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
        self.recorded_durations[action_name].append(end - began)

    def setup(self, stage: str, local_rank: int | None = None, log_dir: str | None = None) -> None:
        """A new run: forget the previous run's durations (they stay readable until then)."""
        super().setup(stage, local_rank, log_dir)
        self.recorded_durations.clear()
        self.current_actions.clear()
        self.start_time = time.perf_counter()

    def rows(self) -> list[tuple[str, float, int, float, float]]:
        """(action, mean s, calls, total s, percent of wall time), largest total first."""
        wall = max(time.perf_counter() - self.start_time, 1e-12)
        rows = []
        for name, durations in self.recorded_durations.items():
            if durations:
                total = math.fsum(durations)
                rows.append((name, total / len(durations), len(durations), total, 100.0 * total / wall))
        return sorted(rows, key=lambda row: row[3], reverse=True)

    def summary(self) -> str:
        if not any(self.recorded_durations.values()):
            return ""
        rows = self.rows()
        width = max(len(row[0]) for row in rows)
        if self.extended:
            header = ("Action", "Mean duration (s)", "Num calls", "Total time (s)", "Percentage %")
            wall = time.perf_counter() - self.start_time
            top = [("Total", "-", str(sum(row[2] for row in rows)), f"{wall:.5}", "100 %")]
            body = [(name, f"{mean:.5}", str(calls), f"{total:.5}", f"{share:.5}")
                    for name, mean, calls, total, share in rows]
        else:
            header = ("Action", "Mean duration (s)", "Total time (s)")
            top = []
            body = [(name, f"{mean:.5}", f"{total:.5}")
                    for name, mean, _, total, _ in sorted(rows, key=lambda row: row[1], reverse=True)]
        return self._stage_title() + os.linesep + _table(width, header, top, body)


def _table(width: int, header: tuple[str, ...], top: list[tuple[str, ...]], body: list[tuple[str, ...]]) -> str:
    """Lightning's report layout: "|  cell<TAB>" per column, dashed rules as long as the expanded header."""
    def line(row: tuple[str, ...]) -> str:
        first, *rest = row
        return os.linesep + f"|  {first:<{width}}\t|" + "".join(f"  {cell:<{_CELL}}\t|" for cell in rest)

    rule = os.linesep + "-" * len(line(header).expandtabs())
    parts = [rule, line(header), rule]
    if top:
        parts += [*map(line, top), rule]
    parts += [*map(line, body), rule, os.linesep]
    return "".join(parts)
