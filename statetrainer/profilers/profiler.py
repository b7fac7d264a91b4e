"""The Profiler base (Lightning's interface) and PassThroughProfiler, which the trainer holds by default.

The trainer calls ``setup(stage, local_rank, log_dir)`` when a run starts, wraps each action in
``profile(name)`` (``[State]<state>``, ``[Callback]<key>.<hook>``, ``[StateModule]<Class>.<hook>``,
``[Signal]<hook>``...), and calls ``describe()`` when the run ends: the report is printed on local
rank 0, or appended to ``dirpath/<stage>-<filename>.txt`` when ``filename`` is given.
"""
from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TextIO

__all__ = ["Profiler", "PassThroughProfiler"]


class Profiler(ABC):
    """Base class: implement ``start(action)``, ``stop(action)`` and ``summary()``.

    Args:
        dirpath: folder for the report file; None uses the run's ``trainer.log_dir`` (given at setup).
        filename: write the report to ``<stage>-<filename>[-<rank>].txt`` instead of printing it.
    """

    #: False for a profiler that records nothing: the trainer then skips wrapping its calls.
    active = True

    def __init__(self, dirpath: str | os.PathLike | None = None, filename: str | None = None) -> None:
        self.dirpath = None if dirpath is None else os.fspath(dirpath)
        self.filename = filename
        self._output_file: TextIO | None = None
        self._write: Callable[[str], Any] | None = None
        self._local_rank: int | None = None
        self._stage: str | None = None

    @abstractmethod
    def start(self, action_name: str) -> None:
        """Begin recording `action_name`."""

    @abstractmethod
    def stop(self, action_name: str) -> None:
        """Finish recording `action_name`."""

    def summary(self) -> str:
        """The report text; empty means nothing to report."""
        return ""

    @contextmanager
    def profile(self, action_name: str) -> Iterator[str]:
        """``with profiler.profile("load data"): ...`` records the block as one call of that action."""
        self.start(action_name)
        try:
            yield action_name
        finally:
            self.stop(action_name)

    def setup(self, stage: str, local_rank: int | None = None, log_dir: str | None = None) -> None:
        """A run of `stage` ("fit", "validate", "test", "predict") begins."""
        self._stage = stage
        self._local_rank = local_rank
        self.dirpath = self.dirpath or log_dir

    def teardown(self, stage: str | None) -> None:
        """Close the report file."""
        self._write = None
        if self._output_file is not None:
            self._output_file.close()
            self._output_file = None

    def describe(self) -> None:
        """Print the report, or append it to the report file, then tear down."""
        self._open_stream()
        text = self.summary()
        if text and self._write is not None:
            self._write(text)
        if self._output_file is not None:
            self._output_file.flush()
        self.teardown(self._stage)

    @property
    def local_rank(self) -> int:
        return 0 if self._local_rank is None else self._local_rank

    def report_path(self, action_name: str | None = None, extension: str = ".txt") -> str | None:
        """Where the report goes (None: printed): ``dirpath/<stage>-<filename>[-<rank>][-<action>].txt``."""
        if not (self.filename and self.dirpath):
            return None
        parts = [part for part in (self._stage, self.filename) if part]
        if self._local_rank is not None:
            parts.append(str(self._local_rank))
        if action_name is not None:
            parts.append(action_name)
        base = re.sub(r"_+", "_", re.sub(r"[\\/:*?\"<>|\n\r\t]", "_", "-".join(parts))).strip()
        return os.path.join(self.dirpath, (base or "profile") + extension)

    def _open_stream(self) -> None:
        if self._write is not None:
            return
        path = self.report_path()
        if path is None:
            self._write = self._print_on_rank_zero
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._output_file = open(path, "a", encoding="utf-8")
        self._write = self._output_file.write

    def _print_on_rank_zero(self, text: str) -> None:
        if self._local_rank in (None, 0):
            print(text)

    def _stage_title(self) -> str:
        return f"{self._stage.upper()} Profiler Report" if self._stage else "Profiler Report"

    def __del__(self) -> None:
        if getattr(self, "_output_file", None) is not None:
            self._output_file.close()


class PassThroughProfiler(Profiler):
    """Records nothing: what ``Trainer(profiler=None)`` holds (the trainer skips wrapping calls with it)."""

    active = False

    def start(self, action_name: str) -> None:
        pass

    def stop(self, action_name: str) -> None:
        pass
