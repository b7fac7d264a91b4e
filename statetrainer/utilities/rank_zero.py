"""Run code or emit messages on global rank 0 only (Lightning's `lightning.pytorch.utilities.rank_zero`).

`rank_zero_only.rank` is read from the environment when this module is imported (the first of
RANK, LOCAL_RANK, SLURM_PROCID, JSM_NAMESPACE_RANK that is set, else 0), as Lightning does; set it
yourself in processes you start by other means.
"""
from __future__ import annotations

import functools
import logging
import os
import warnings
from typing import Any, Callable, Optional, TypeVar, Union

__all__ = ["LightningDeprecationWarning", "WarningCache", "rank_prefixed_message", "rank_zero_debug",
           "rank_zero_deprecation", "rank_zero_info", "rank_zero_only", "rank_zero_warn"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def _rank_from_environment() -> Optional[int]:
    """The rank the launcher put in the environment, or None when no launcher variable is set."""
    for name in _RANK_VARIABLES:
        value = os.environ.get(name)
        if value is not None:
            return int(value)
    return None


def rank_zero_only(fn: Callable[..., T], default: Optional[T] = None) -> Callable[..., Optional[T]]:
    """Decorator: `fn` runs when `rank_zero_only.rank == 0`; on other ranks the call returns `default`."""

    @functools.wraps(fn)
    def on_rank_zero(*args: Any, **kwargs: Any) -> Optional[T]:
        rank = getattr(rank_zero_only, "rank", None)
        if rank is None:
            raise RuntimeError("rank_zero_only.rank is not set; accepted: an int, set before the decorated "
                               "function is called.")
        return fn(*args, **kwargs) if rank == 0 else default

    return on_rank_zero


rank_zero_only.rank = _rank_from_environment() or 0


class LightningDeprecationWarning(DeprecationWarning):
    """The category of `rank_zero_deprecation` messages."""


@rank_zero_only
def rank_zero_debug(*args: Any, stacklevel: int = 4, **kwargs: Any) -> None:
    """`logging.debug` on rank 0 (logger `statetrainer.utilities.rank_zero`)."""
    log.debug(*args, stacklevel=stacklevel, **kwargs)


@rank_zero_only
def rank_zero_info(*args: Any, stacklevel: int = 4, **kwargs: Any) -> None:
    """`logging.info` on rank 0 (logger `statetrainer.utilities.rank_zero`)."""
    log.info(*args, stacklevel=stacklevel, **kwargs)


@rank_zero_only
def rank_zero_warn(message: Union[str, Warning], stacklevel: int = 4, **kwargs: Any) -> None:
    """`warnings.warn` on rank 0; the warning points at the caller of the function that called this."""
    warnings.warn(message, stacklevel=stacklevel, **kwargs)


def rank_zero_deprecation(message: Union[str, Warning], stacklevel: int = 5, **kwargs: Any) -> None:
    """A LightningDeprecationWarning (or `category=`) on rank 0."""
    category = kwargs.pop("category", LightningDeprecationWarning)
    rank_zero_warn(message, stacklevel=stacklevel, category=category, **kwargs)


def rank_prefixed_message(message: str, rank: Optional[int]) -> str:
    """`[rank: N] message`, or the message unchanged when `rank` is None."""
    return message if rank is None else f"[rank: {rank}] {message}"


class WarningCache(set):
    """Each distinct message is emitted once (on rank 0); repeats are dropped."""

    def _first(self, message: str) -> bool:
        if message in self:
            return False
        self.add(message)
        return True

    def warn(self, message: str, stacklevel: int = 5, **kwargs: Any) -> None:
        if self._first(message):
            rank_zero_warn(message, stacklevel=stacklevel, **kwargs)

    def deprecation(self, message: str, stacklevel: int = 6, **kwargs: Any) -> None:
        if self._first(message):
            rank_zero_deprecation(message, stacklevel=stacklevel, **kwargs)

    def info(self, message: str, stacklevel: int = 5, **kwargs: Any) -> None:
        if self._first(message):
            rank_zero_info(message, stacklevel=stacklevel, **kwargs)
