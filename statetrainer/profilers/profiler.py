"""The Profiler base (Lightning's interface) and PassThroughProfiler, which the trainer holds by default.

The trainer calls ``setup(stage, local_rank, log_dir)`` and ``bind(module)`` when a run starts,
wraps each action in ``profile(name)`` (names in ``statetrainer.profilers.actions``), and calls
``describe()`` when the run ends. The report goes to ``dirpath/<stage>-<filename>.txt`` when a
``filename`` is given (``-<local_rank>`` is added before ``.txt`` when the run has several
processes); otherwise it is an INFO record of the ``statetrainer.profilers`` logger, printed on
stdout as well when no logging handler would show that record.
"""
from __future__ import annotations

import logging
import os
import re
import weakref
from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TextIO

__all__ = ["Profiler", "PassThroughProfiler"]

log = logging.getLogger("statetrainer.profilers")
if log.level == logging.NOTSET:  # reports are INFO records, shown by default as Lightning's are
    log.setLevel(logging.INFO)


class Profiler(ABC):
    """Base class: implement ``start(action)``, ``stop(action)`` and ``summary()``.

    Args:
        dirpath: folder for the report file (kept as given: a ``Path`` stays a ``Path``); None uses
            the run's ``trainer.log_dir`` (given at setup).
        filename: write the report to ``<stage>-<filename>.txt`` in `dirpath` instead of logging it.
    """

    #: False for a profiler that records nothing: the trainer then skips wrapping its calls.
    active = True

    def __init__(self, dirpath: str | os.PathLike | None = None, filename: str | None = None) -> None:
        self.dirpath = dirpath
        self.filename = filename
        self._output_file: TextIO | None = None
        self._write: Callable[[str], Any] | None = None
        self._local_rank: int | None = None
        self._stage: str | None = None
        self._module: weakref.ref | None = None

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
        """A run of `stage` ("fit", "validate", "test", "predict") begins. `local_rank` is None in a
        run of one process (the report file then has no rank suffix)."""
        self._stage = stage
        self._local_rank = local_rank
        self.dirpath = self.dirpath or log_dir

    def bind(self, module: Any) -> None:
        """The module of the run that starts (held weakly; a profiler may label its submodules)."""
        self._module = None if module is None else weakref.ref(module)

    def __getstate__(self) -> dict:
        """Pickled (ddp_spawn sends the trainer to its workers): without the weak reference and the open file."""
        return {**self.__dict__, "_module": None, "_output_file": None, "_write": None}

    @property
    def module(self) -> Any:
        """The module of the current run, or None."""
        return None if self._module is None else self._module()

    def __getstate__(self) -> dict:
        """A copy or pickle (of the profiler, or of a trainer holding it) leaves the weak module reference
        and the open report file behind."""
        state = dict(self.__dict__)
        state.update(_module=None, _output_file=None, _write=None)
        return state

    def teardown(self, stage: str | None) -> None:
        """Close the report file."""
        self._write = None
        if self._output_file is not None:
            self._output_file.close()
            self._output_file = None

    def describe(self) -> None:
        """Write the report (file, or log and print), then tear down."""
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
        """``dirpath/<stage>-<filename>[-<rank>][-<action>]<extension>`` (None without a dirpath)."""
        if not self.dirpath:
            return None
        return os.path.join(self.dirpath, self.report_name(action_name, extension))

    def report_name(self, action_name: str | None = None, extension: str = ".txt") -> str:
        """The file name part of `report_path`: the parts present, joined by "-", path-unsafe
        characters replaced by "_"."""
        parts = [part for part in (self._stage, self.filename) if part]
        if self._local_rank is not None:
            parts.append(str(self._local_rank))
        if action_name is not None:
            parts.append(action_name)
        base = re.sub(r"_+", "_", re.sub(r"[\\/:*?\"<>|\n\r\t]", "_", "-".join(parts))).strip()
        return (base or "profile") + extension

    def _open_stream(self) -> None:
        if self._write is not None:
            return
        path = self.report_path() if self.filename else None
        if path is None:
            self._write = self._report_on_rank_zero
            return
        os.makedirs(self.dirpath, exist_ok=True)
        self._output_file = open(path, "a", encoding="utf-8")
        self._write = self._output_file.write

    def _report_on_rank_zero(self, text: str) -> None:
        if self._local_rank not in (None, 0):
            return
        log.info(text)
        if not _logging_shows(log, logging.INFO):
            print(text)

    def _stage_title(self) -> str:
        return f"{self._stage.upper()} Profiler Report" if self._stage else "Profiler Report"

    def __del__(self) -> None:
        if getattr(self, "_output_file", None) is not None:
            self._output_file.close()


def _logging_shows(logger: logging.Logger, level: int) -> bool:
    """Whether a record of `level` sent to `logger` reaches a handler that emits it."""
    if not logger.isEnabledFor(level):
        return False
    current: logging.Logger | None = logger
    while current is not None:
        if any(handler.level <= level for handler in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


class PassThroughProfiler(Profiler):
    """Records nothing: what ``Trainer(profiler=None)`` holds (the trainer skips wrapping calls with it)."""

    active = False

    def start(self, action_name: str) -> None:
        pass

    def stop(self, action_name: str) -> None:
        pass
