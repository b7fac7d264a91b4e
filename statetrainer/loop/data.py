"""Dataloaders: where they come from, how many batches each gives, and a prefetching fetcher."""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Iterator, Optional

from statetrainer.errors import MisconfigurationError, flag_error
from statetrainer.utilities.combined_loader import CombinedLoader

__all__ = ["Fetcher", "combine", "batches_of", "count_batches", "sized_len", "set_sampler_epoch", "without_shuffle"]


def combine(value: Any, mode: str) -> Optional[CombinedLoader]:
    """`value` as a CombinedLoader (several loaders in a list/dict/tuple, read under `mode`, or a
    CombinedLoader already), or None when it is one loader (the loop reads it directly)."""
    if isinstance(value, CombinedLoader):
        return value
    combined = CombinedLoader(value, mode)
    flat = combined.flattened
    return None if len(flat) == 1 and flat[0] is value else combined


class _Batches:
    """A CombinedLoader seen as the iterable of its batches (its batch and dataloader indices dropped)."""

    __slots__ = ("combined",)

    def __init__(self, combined: CombinedLoader):
        self.combined = combined

    def __len__(self) -> int:
        return self.combined.batches_per_pass()  # a float inf raises TypeError: sized_len reads "no length"

    def __iter__(self) -> Iterator:
        return (batch for batch, _, _ in iter(self.combined))


def batches_of(combined: CombinedLoader) -> Iterable:
    return _Batches(combined)


def sized_len(loader: Any) -> float:
    """len(loader), or inf when the loader (an iterable dataset) has none."""
    try:
        return len(loader)
    except (TypeError, NotImplementedError):
        return math.inf


def count_batches(loader: Any, limit: float | int, flag: str, name: str = "") -> float:
    """How many batches one pass over `loader` yields under `limit` (int: batches, float: fraction).
    `name` says which loader it is in the warning about an empty one."""
    available = sized_len(loader)
    if available == 0:
        import warnings
        kind = flag[len("limit_"):-len("_batches")]
        warnings.warn(f"the {name or kind + ' dataloader'} has length 0: it yields no batches (a "
                      f"{type(loader).__name__}; if that is not intended, check its dataset and batch_size/drop_last).",
                      stacklevel=3)
    if isinstance(limit, int):
        return min(available, limit)
    if math.isinf(available):
        if limit in (0.0, 1.0):
            return 0 if limit == 0.0 else math.inf
        raise flag_error(flag, limit, "an int number of batches or 1.0/0.0 when the dataloader has no length")
    count = int(available * limit)
    if count == 0 and limit > 0.0 and available > 0:
        raise MisconfigurationError(
            f"`{flag}` got {limit!r}, which leaves 0 of the {available} batches; accepted: a larger fraction "
            f"(at least {1 / available:.4f}) or an int number of batches.")
    return count


def set_sampler_epoch(loader: Any, epoch: int) -> None:
    """Call set_epoch, once each, on the samplers that have it: the loader's `sampler` and its batch
    sampler's `sampler` (DistributedSampler and the like); every loader of a CombinedLoader."""
    if isinstance(loader, CombinedLoader):
        for part in loader.flattened:
            set_sampler_epoch(part, epoch)
        return
    batch_sampler = getattr(loader, "batch_sampler", None)
    seen: set[int] = set()
    for sampler in (getattr(loader, "sampler", None), getattr(batch_sampler, "sampler", None)):
        if sampler is not None and id(sampler) not in seen and callable(getattr(sampler, "set_epoch", None)):
            seen.add(id(sampler))
            sampler.set_epoch(epoch)


def without_shuffle(loader: Any) -> Any:
    """The same DataLoader with a sequential sampler (for overfit_batches)."""
    import torch.utils.data as tud
    if not isinstance(loader, tud.DataLoader) or isinstance(loader.dataset, tud.IterableDataset):
        return loader
    if isinstance(loader.sampler, tud.SequentialSampler):
        return loader
    return tud.DataLoader(loader.dataset, batch_size=loader.batch_size, shuffle=False,
                          num_workers=loader.num_workers, collate_fn=loader.collate_fn,
                          pin_memory=loader.pin_memory, drop_last=loader.drop_last)


class Fetcher:
    """Iterates a loader under a batch limit, knowing whether the batch just fetched is the last.

    With a known length it fetches lazily (as Lightning does for sized loaders, so random
    augmentations and the model draw from the RNG in the same order); without one it reads one
    batch ahead. `skip` replays that many batches first (a resume from the epoch's start);
    `already` counts batches a stateful source has consumed before (a resume without replay).
    `track`, for stateful sources read ahead, captures their state before each read-ahead
    (`tracked`: the state after the batches handed out so far).
    """

    __slots__ = ("_iter", "total", "fetched", "_next", "_ahead", "done", "_track", "tracked")

    def __init__(self, loader: Iterable, limit: float, skip: int = 0, already: int = 0,
                 track: Callable[[], Any] | None = None):
        self.total = min(sized_len(loader), limit)
        self.fetched = already
        self.done = self.total <= already
        self._next = None
        self._ahead = math.isinf(sized_len(loader))
        self._track = track if self._ahead else None
        self.tracked = None
        self._iter: Iterator = iter(loader) if not self.done else iter(())
        for _ in range(skip):  # resume mid-epoch: replay the batches already trained on
            if self.done or self._pull() is _END:
                self.done = True
                return
            self.fetched += 1
        if self._ahead and not self.done:
            self._read_ahead()
        elif self.fetched >= self.total:
            self.done = True

    def _pull(self) -> Any:
        try:
            return next(self._iter)
        except StopIteration:
            return _END

    def _read_ahead(self) -> None:
        if self._track is not None:
            self.tracked = self._track()
        self._next = self._pull()
        self.done = self._next is _END

    def has_next(self) -> bool:
        return not self.done

    def fetch(self) -> Any:
        """The next batch; afterwards `done` tells whether it was the last one. StopIteration if the
        loader ended before its length said it would."""
        if self._ahead:
            batch, self._next = self._next, None
            self.fetched += 1
            if self.fetched >= self.total:
                self.done = True
            else:
                self._read_ahead()
            return batch
        try:
            batch = next(self._iter)
        except StopIteration:
            self.done = True
            raise
        self.fetched += 1
        self.done = self.fetched >= self.total
        return batch


_END = object()
