"""The Logger base class (Lightning's interface) and a DummyLogger that accepts every call."""
from __future__ import annotations

import functools
import os
from abc import ABC, abstractmethod
from typing import Any, Callable, Mapping

__all__ = ["Logger", "DummyLogger", "rank_zero_only", "global_rank"]


def global_rank() -> int:
    """This process's global rank: torch.distributed's when initialised, else the launcher's RANK variable."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    for variable in ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if variable in os.environ:
            return int(os.environ[variable])
    return 0


def rank_zero_only(method: Callable) -> Callable:
    """Run a logger method on global rank 0 only; other ranks get None (only rank 0 writes)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if global_rank() == 0:
            return method(*args, **kwargs)
        return None

    return wrapper


class Logger(ABC):
    """Base class for experiment loggers: the calls the trainer and the metric book make.

    Subclass it and implement ``name``, ``version``, ``log_metrics`` and ``log_hyperparams``; the
    other methods have working defaults. ``log_metrics`` receives plain floats keyed by metric name
    and the step they belong to (``trainer.global_step`` while training).
    """

    @property
    @abstractmethod
    def name(self) -> str | None:
        """The experiment's name."""

    @property
    @abstractmethod
    def version(self) -> int | str | None:
        """The experiment's version."""

    @property
    def root_dir(self) -> str | None:
        """The folder holding every version of this experiment, or None when nothing is saved locally."""
        return None

    @property
    def save_dir(self) -> str | None:
        """The folder the logs go under, or None when nothing is saved locally."""
        return None

    @property
    def log_dir(self) -> str | None:
        """This run's folder, or None when nothing is saved locally."""
        return None

    @property
    def group_separator(self) -> str:
        """The character that groups metric names (``"train/loss"``)."""
        return "/"

    @abstractmethod
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record metric values for one step."""

    @abstractmethod
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """Record the run's hyperparameters."""

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """Record the model's graph; the default records nothing."""

    def save(self) -> None:
        """Flush what was logged to storage."""

    def finalize(self, status: str) -> None:
        """The run ended with ``status`` ("success", "failed" or "interrupted"): flush and close."""
        self.save()

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """ModelCheckpoint saved a checkpoint; the default does nothing."""


class _DummyExperiment:
    """An experiment object whose every method does nothing (returned on ranks other than 0)."""

    def nop(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __getattr__(self, _: str) -> Callable:
        return self.nop

    def __getitem__(self, _: Any) -> "_DummyExperiment":
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        """`experiment["key"] = value` (as some loggers' experiments take it) is accepted and forgotten."""


class DummyLogger(Logger):
    """A logger that accepts every call and records nothing (used to switch logging off for a while)."""

    def __init__(self) -> None:
        self._experiment = _DummyExperiment()

    @property
    def experiment(self) -> _DummyExperiment:
        return self._experiment

    @property
    def name(self) -> str:
        return ""

    @property
    def version(self) -> str:
        return ""

    def log_metrics(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_hyperparams(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getitem__(self, _: int) -> "DummyLogger":
        return self

    def __getattr__(self, name: str) -> Callable:
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None
