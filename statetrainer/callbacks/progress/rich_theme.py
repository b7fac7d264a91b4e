"""RichProgressBarTheme: the styles of the rich progress bar (Lightning's fields and defaults).

Each style is a rich style string or ``rich.style.Style`` (https://rich.readthedocs.io/en/stable/style.html).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["RichProgressBarTheme"]


@dataclass
class RichProgressBarTheme:
    """Styles of RichProgressBar's parts.

    Args:
        description: the bar's description ("Epoch 3/9", "Validation", ...).
        progress_bar: the bar while it advances.
        progress_bar_finished: the bar once complete.
        progress_bar_pulse: the bar of a loader without a length (it pulses).
        batch_progress: the "12/50" batch count.
        time: elapsed and remaining time.
        processing_speed: batches per second.
        metrics: the metrics after the training bar.
        metrics_text_delimiter: what separates two metrics.
        metrics_format: the format spec of numeric metrics.
    """

    description: Any = ""
    progress_bar: Any = "#6206E0"
    progress_bar_finished: Any = "#6206E0"
    progress_bar_pulse: Any = "#6206E0"
    batch_progress: Any = ""
    time: Any = "dim"
    processing_speed: Any = "dim underline"
    metrics: Any = "italic"
    metrics_text_delimiter: str = " "
    metrics_format: str = ".3f"
