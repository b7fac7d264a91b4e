"""The evaluation cursor: several evaluation streams read one after the other, one batch per fetch."""
from __future__ import annotations

from typing import Any, Callable, Optional

from statetrainer.loop.data import Fetcher

__all__ = ["EvalCursor"]


class EvalCursor:
    """Iterates the streams of an evaluation in sequence (each under its batch limit). The last
    stream's iterator stays open until the cursor is dropped or closed, as Lightning keeps it until
    the next evaluation starts (its worker processes stop then)."""

    def __init__(self, loaders: list, limits: list, fetch: Callable[[Fetcher], Any] = Fetcher.fetch):
        self.loaders = loaders
        self.limits = limits
        self._fetch = fetch
        self.dl_idx = 0
        self.batch_idx = -1
        self._fetcher: Optional[Fetcher] = None

    def has_next(self) -> bool:
        while self.dl_idx < len(self.loaders):
            if self._fetcher is None:
                self._fetcher = Fetcher(self.loaders[self.dl_idx], self.limits[self.dl_idx])
                self.batch_idx = -1
            if self._fetcher.has_next():
                return True
            self.dl_idx += 1
            if self.dl_idx < len(self.loaders):
                self._fetcher = None
        return False

    def fetch(self) -> tuple[Any, int, int]:
        """(batch, batch_idx, dataloader_idx); call after has_next() said True."""
        batch = self._fetch(self._fetcher)
        self.batch_idx += 1
        return batch, self.batch_idx, self.dl_idx

    def restart(self, loaders: list, limits: list) -> None:
        """Iterate `loaders` instead, from their start (nothing was fetched yet)."""
        self.loaders, self.limits = loaders, limits
        self.dl_idx, self.batch_idx, self._fetcher = 0, -1, None

    def at_last_of_loader(self) -> bool:
        return not self._fetcher.has_next()

    def close(self) -> None:
        """Drop the open iterator (its worker processes stop)."""
        self._fetcher = None

    @property
    def empty(self) -> bool:
        return sum(self.limits) == 0
