"""PipedLines: what a tqdm bar writes to when the output is not a terminal (a pipe, a file, CI logs).

In a terminal a bar redraws one line in place with carriage returns; in a log file that becomes one
endless line. A bar drawing to PipedLines writes each redraw it is *told* to make (``open`` is set
by the progress bar callback around its own draws, so tqdm's internal redraws stay silent) as one
whole line, drops a line equal to the previous one apart from its timings, and tells the callback
whether a new line is due (at most one every ``interval`` seconds, besides the last of each bar).
"""
from __future__ import annotations

import math
import re
import time
from typing import TextIO

__all__ = ["PipedLines"]

_TIMING = re.compile(r"\[[^\]]*?(?:it/s|s/it)")


class PipedLines:
    """A write-only stream for a tqdm bar that turns redraws into plain lines on `stream`."""

    piped_lines = True  # how the callback recognises this writer behind tqdm's own wrapper

    def __init__(self, stream: TextIO, interval: float) -> None:
        self.stream = stream
        self.interval = interval
        self.open = False
        self.last = ""
        self.last_line_at = -math.inf

    def due(self) -> bool:
        """True when `interval` seconds have passed since the last line this writer was due."""
        now = time.monotonic()
        if now - self.last_line_at < self.interval:
            return False
        self.last_line_at = now
        return True

    def write(self, text: str) -> None:
        if not self.open:
            return
        for part in text.replace("\x1b[A", "").replace("\r", "\n").split("\n"):
            part = part.rstrip()
            key = _TIMING.sub("", part)
            if part and key != self.last:
                self.stream.write(part + "\n")
                self.last = key

    def flush(self) -> None:
        self.stream.flush()
