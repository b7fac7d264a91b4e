"""BatchSizeSearch: Lightning's power and binsearch strategies over a trial function.

The search knows nothing of trainers: `attempt(size)` runs a trial and says whether it fitted in
memory, `dataset_size()` is the size of the data the last trial iterated (None when unknown).
The sequence of sizes tried is Lightning's; where Lightning can loop forever or reach size 0, this
search stops instead (see docs/tuner.md).
"""
from __future__ import annotations

import logging
from typing import Callable, Optional

from statetrainer.errors import MisconfigurationError

__all__ = ["BatchSizeSearch"]

log = logging.getLogger(__name__)


class BatchSizeSearch:
    """`BatchSizeSearch(attempt, mode="power").run(init_val)` -> the size to train with."""

    def __init__(self, attempt: Callable[[int], bool], mode: str = "power", max_trials: int = 25,
                 margin: float = 0.05, max_val: int = 8192,
                 dataset_size: Callable[[], Optional[int]] = lambda: None) -> None:
        self.attempt = attempt
        self.mode = mode
        self.max_trials = max_trials
        self.margin = margin
        self.max_val = max_val
        self.dataset_size = dataset_size
        self.tried: list[tuple[int, bool]] = []   # (size, fitted) in trial order

    def run(self, init_val: int) -> int:
        size = min(init_val, self.max_val)
        size = self._power(size) if self.mode == "power" else self._binsearch(size)
        if self.mode == "binsearch" and self.margin > 0:
            reduced = max(1, int(size * (1 - self.margin)))
            if reduced != size:
                log.info("Applying margin of %.1f%%, reducing batch size from %d to %d",
                         self.margin * 100, size, reduced)
            size = reduced
        return size

    def _try(self, size: int) -> bool:
        fitted = self.attempt(size)
        self.tried.append((size, fitted))
        if not fitted and size <= 1:
            raise MisconfigurationError("scale_batch_size found that even batch size 1 runs out of memory; accepted: "
                                        "a model and data that fit in memory with one sample per batch.")
        return fitted

    def _grow(self, size: int, target: int) -> tuple[int, bool]:
        """(next size, whether it differs): capped at max_val; no growth once a batch holds the whole dataset."""
        total = self.dataset_size()
        if total is not None and size >= total:
            log.info("The batch size %d is greater or equal than the length of your dataset: %d.", size, total)
            return size, False
        target = min(target, self.max_val)
        if size != target < self.max_val:  # max_val itself is never tried
            _announce(size, True, target)
        return target, target != size

    def _power(self, size: int) -> int:
        """Double after every success; after a failure, halve and stop (or keep halving if nothing fitted yet)."""
        any_success = False
        for trial in range(self.max_trials):
            if size >= self.max_val:
                log.info("Reached the maximum batch size limit of %d. Stopping search.", self.max_val)
                break
            if self._try(size):
                if trial + 1 >= self.max_trials:
                    break
                size, changed = self._grow(size, size * 2)
                if not changed:
                    break
                any_success = True
            else:
                failed, size = size, max(1, size // 2)
                if any_success:
                    break
                _announce(failed, False, size)
        return size

    def _binsearch(self, size: int) -> int:
        """Double until a failure, then bisect between the last success and the smallest failure."""
        low, high, successes = 1, None, 0
        while size < self.max_val:
            if self._try(size):
                successes += 1
                if successes >= self.max_trials:
                    break
                low = size
                if high is not None and high - low <= 1:
                    break
                size, changed = self._grow(size, size * 2 if high is None else (high + low) // 2)
                if not changed:
                    break
            else:
                high = size
                size = (high + low) // 2
                if high - low <= 1:
                    break
                _announce(high, False, size)
        else:
            log.info("Reached the maximum batch size limit of %d. Stopping search.", self.max_val)
        return size


def _announce(size: int, fitted: bool, following: int) -> None:
    """One log line per move of the search: how `size` went and the size the next trial uses."""
    log.info("Batch size %d %s; trying batch size %d next.", size, "fitted" if fitted else "ran out of memory",
             following)
