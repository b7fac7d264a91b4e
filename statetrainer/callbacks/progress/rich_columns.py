"""The columns of RichProgressBar's display (imported only once a rich bar starts: needs ``rich``).

    Epoch 3/9  ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 50/50 0:00:04 • 0:00:00 12.31it/s v_num: 0 val_loss: 0.412
    description  bar                                    batches  elapsed • remaining  speed  metrics (training bar only)
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from rich.progress import BarColumn, ProgressColumn, Task, TextColumn
from rich.table import Column
from rich.text import Text

__all__ = ["MetricsColumn", "default_columns"]


class BatchesColumn(ProgressColumn):
    """``12/50``; ``12/--`` for a loader without a length."""

    def __init__(self, style: Any) -> None:
        super().__init__(table_column=Column(no_wrap=True))  # a narrow terminal shortens the bar instead
        self.style = style

    def render(self, task: Task) -> Text:
        total = "--" if task.total is None else int(task.total)
        return Text(f"{int(task.completed)}/{total}", style=self.style)


class TimeColumn(ProgressColumn):
    """``0:01:05 • 0:00:12``: elapsed and remaining (``-:--:--`` while unknown)."""

    max_refresh = 0.5  # seconds: the time text changes at most twice a second, so it does not flicker

    def __init__(self, style: Any) -> None:
        super().__init__(table_column=Column(no_wrap=True))  # a narrow terminal shortens the bar instead
        self.style = style

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        remaining = None if task.total is None else task.time_remaining
        return Text(f"{_clock(elapsed)} • {_clock(remaining)}", style=self.style)


class SpeedColumn(ProgressColumn):
    """``12.31it/s``."""

    def __init__(self, style: Any) -> None:
        super().__init__(table_column=Column(no_wrap=True))  # a narrow terminal shortens the bar instead
        self.style = style

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0.0:.2f}it/s", style=self.style)


class MetricsColumn(ProgressColumn):
    """The bar's metrics, after the training bar only; the bar sets `task_id` and `metrics`."""

    def __init__(self, style: Any, delimiter: str, number_format: str) -> None:
        super().__init__(table_column=Column(no_wrap=True))  # a narrow terminal shortens the bar instead
        self.style = style
        self.delimiter = delimiter
        self.number_format = number_format
        self.task_id: Any = None
        self.metrics: dict[str, Any] = {}

    def render(self, task: Task) -> Text:
        if task.id != self.task_id:
            return Text()
        return Text(self.delimiter.join(f"{name}: {self._format(value)}" for name, value in self.metrics.items()),
                    style=self.style, justify="left")

    def _format(self, value: Any) -> str:
        if isinstance(value, (str, int)):  # a version number or a count stays as it is
            return str(value)
        try:
            return format(value, self.number_format)
        except (TypeError, ValueError):
            return str(value)


def default_columns(theme: Any) -> list:
    """Description, bar, batches, time and speed, styled by `theme` (a RichProgressBarTheme)."""
    return [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(complete_style=theme.progress_bar, finished_style=theme.progress_bar_finished,
                  pulse_style=theme.progress_bar_pulse),
        BatchesColumn(theme.batch_progress),
        TimeColumn(theme.time),
        SpeedColumn(theme.processing_speed),
    ]


def _clock(seconds: float | None) -> str:
    return "-:--:--" if seconds is None else str(timedelta(seconds=int(seconds)))
