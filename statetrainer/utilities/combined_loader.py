"""CombinedLoader: several iterables read together, Lightning's `lightning.pytorch.utilities.CombinedLoader`.

The iterables may be nested in lists, tuples, dicts and namedtuples; each batch has that same
structure, filled with one batch of each iterable. A container whose items are all plain numbers or
strings counts as one iterable (a list of ints is data, not a collection of loaders).

Modes (how the iterables are walked together):

    min_size        one batch of each until the shortest ends; length: the shortest
    max_size_cycle  one batch of each until the longest ends, restarting the shorter ones
    max_size        one batch of each until the longest ends, None for those that ended
    sequential      each iterable whole, one after the other; its batches come alone, with
                    their index inside their iterable and the iterable's index

Iterating yields `(batch, batch_idx, dataloader_idx)`. `limits` (one per iterable, set by the
trainer from `limit_*_batches`) shorten the length in every mode and stop each iterable at its
limit in the sequential mode. `len()` is known once `iter()` was called, as in Lightning.
"""
from __future__ import annotations

import collections
import math
from typing import Any, Iterable, Iterator, Optional, Union

__all__ = ["CombinedLoader", "shutdown_workers"]

Limit = Union[int, float]
_AGGREGATE = {"min_size": min, "max_size_cycle": max, "max_size": max, "sequential": sum}
_PLAIN = (int, float, str)


# ------------------------------------------------------------------------------------------ the structure
def _children(obj: Any) -> Optional[list]:
    """The items of a container the loader looks into, or None for anything else (one iterable)."""
    kind = type(obj)
    if kind in (list, tuple, collections.deque) or (isinstance(obj, tuple) and hasattr(kind, "_fields")):
        return list(obj)
    if kind in (dict, collections.OrderedDict, collections.defaultdict):
        return list(obj.values())
    return None


def _flatten(obj: Any) -> tuple[list, tuple]:
    """(iterables in order, spec to rebuild the structure)."""
    items = _children(obj)
    if items is None or all(isinstance(item, _PLAIN) for item in items):
        return [obj], ("leaf",)
    flat: list = []
    specs = []
    for item in items:
        leaves, spec = _flatten(item)
        flat += leaves
        specs.append(spec)
    return flat, ("node", obj, specs)


def _rebuild(kind: type, original: Any, values: list) -> Any:
    if isinstance(original, dict):
        rebuilt = kind(original.default_factory) if kind is collections.defaultdict else kind()
        rebuilt.update(zip(original.keys(), values))
        return rebuilt
    if isinstance(original, tuple) and hasattr(kind, "_fields"):
        return kind(*values)
    if kind is collections.deque:
        return collections.deque(values, maxlen=original.maxlen)
    return kind(values)


def _unflatten(values: Iterator, spec: tuple) -> Any:
    if spec[0] == "leaf":
        return next(values)
    _, original, specs = spec
    return _rebuild(type(original), original, [_unflatten(values, child) for child in specs])


def _lengths(iterables: list) -> list:
    """len() of each iterable, inf when it has none."""
    lengths = []
    for iterable in iterables:
        try:
            lengths.append(len(iterable))
        except (TypeError, NotImplementedError):
            lengths.append(math.inf)
    return lengths


def shutdown_workers(loader: Any) -> None:
    """Stop the worker processes a DataLoader keeps between passes (persistent workers) and forget
    its iterator, as Lightning does at teardown; anything else is left alone."""
    from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter
    iterator = getattr(loader, "_iterator", None)
    if isinstance(iterator, _MultiProcessingDataLoaderIter):
        iterator._shutdown_workers()
    if iterator is not None:
        loader._iterator = None


# ------------------------------------------------------------------------------------------ walking
class _Walk:
    """One pass over the iterables in one mode: `step()` -> (list of batches or one batch, idx, dl_idx)."""

    def __init__(self, iterables: list, mode: str, limits: Optional[list]):
        self.iterables, self.mode, self.limits = iterables, mode, limits
        self.idx = 0
        self.current = 0                  # sequential: the iterable being read
        self.ended = [False] * len(iterables)
        if mode == "sequential":
            self.iterators = [iter(iterables[0])] if iterables else []
        else:
            self.iterators = [iter(iterable) for iterable in iterables]

    def step(self) -> tuple[Any, int, int]:
        batch = getattr(self, "_" + self.mode)()
        index = self.idx
        self.idx += 1
        return batch, index, self.current

    def _min_size(self) -> list:
        return [next(iterator) for iterator in self.iterators]

    def _next_of_each(self, on_end: Any) -> list:
        """One batch of every iterable; `on_end(i)` gives the place of one that has just ended."""
        out = []
        for i, iterator in enumerate(self.iterators):
            try:
                out.append(next(iterator))
            except StopIteration:
                self.ended[i] = True
                out.append(on_end(i))
        return out

    def _restart(self, i: int) -> Any:
        if all(self.ended):
            raise StopIteration
        self.iterators[i] = iter(self.iterables[i])   # the shorter iterable starts over
        return next(self.iterators[i])

    def _max_size_cycle(self) -> list:
        return self._next_of_each(self._restart)

    def _max_size(self) -> list:
        out = self._next_of_each(lambda i: None)
        if all(self.ended):
            raise StopIteration
        return out

    def _sequential(self) -> Any:
        while self.current < len(self.iterables):
            if self.limits is None or self.idx < self.limits[self.current]:
                try:
                    return next(self.iterators[0])
                except StopIteration:
                    pass
            self.current += 1              # this iterable is done: the next one, from its start
            self.idx = 0
            self.iterators = [iter(self.iterables[self.current])] if self.current < len(self.iterables) else []
        raise StopIteration

    def close(self) -> None:
        self.iterators = []


class CombinedLoader(Iterable):
    """Reads several iterables (a list, dict, tuple or nesting of them) together under `mode`."""

    def __init__(self, iterables: Any, mode: str = "min_size") -> None:
        if mode not in _AGGREGATE:
            raise ValueError(f"CombinedLoader got mode={mode!r}; accepted: {', '.join(map(repr, _AGGREGATE))}.")
        self._iterables = iterables
        self._flattened, self._spec = _flatten(iterables)
        self._mode = mode
        self._walk: Optional[_Walk] = None
        self._limits: Optional[list] = None

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def iterables(self) -> Any:
        """The iterables in the structure they were given in."""
        return self._iterables

    @property
    def flattened(self) -> list:
        """The iterables as a flat list, in the structure's order."""
        return self._flattened

    @flattened.setter
    def flattened(self, flattened: list) -> None:
        if len(flattened) != len(self._flattened):
            raise ValueError(f"CombinedLoader.flattened got {len(flattened)} iterables; accepted: a list of "
                             f"{len(self._flattened)}, one for each iterable it combines.")
        self._flattened = list(flattened)
        self._iterables = _unflatten(iter(self._flattened), self._spec)

    @property
    def sampler(self) -> Any:
        """Each iterable's `sampler` (None where it has none), in the iterables' structure."""
        return _unflatten(iter([getattr(it, "sampler", None) for it in self._flattened]), self._spec)

    @property
    def batch_sampler(self) -> Any:
        """Each iterable's `batch_sampler` (None where it has none), in the iterables' structure."""
        return _unflatten(iter([getattr(it, "batch_sampler", None) for it in self._flattened]), self._spec)

    @property
    def limits(self) -> Optional[list]:
        return self._limits

    @limits.setter
    def limits(self, limits: Union[None, Limit, list]) -> None:
        if isinstance(limits, (int, float)):
            limits = [limits] * len(self._flattened)
        elif limits is not None and len(limits) != len(self._flattened):
            raise ValueError(f"CombinedLoader.limits got {len(limits)} limits; accepted: one number, or a list of "
                             f"{len(self._flattened)} (one per iterable).")
        self._limits = None if limits is None else list(limits)

    def batches_per_pass(self) -> Limit:
        """Batches one pass yields under the limits (inf when an iterable without length decides it);
        unlike len(), known before iterating."""
        lengths = _lengths(self._flattened)
        if self._limits is not None:
            lengths = [min(length, limit) for length, limit in zip(lengths, self._limits)]
        return _AGGREGATE[self._mode](lengths) if lengths else 0

    def __len__(self) -> int:
        if self._walk is None:
            raise RuntimeError("len(CombinedLoader) is known once it is iterated: call iter(combined_loader) first.")
        return self.batches_per_pass()

    def __iter__(self) -> "CombinedLoader":
        self._walk = _Walk(self._flattened, self._mode, self._limits)
        return self

    def __next__(self) -> tuple[Any, int, int]:
        if self._walk is None:
            raise RuntimeError("CombinedLoader is not being iterated: call iter(combined_loader) first.")
        batch, index, dataloader_idx = self._walk.step()
        if self._mode != "sequential":
            batch = _unflatten(iter(batch), self._spec)
        return batch, index, dataloader_idx

    def reset(self) -> None:
        """End the current pass and shut down the iterables' worker processes."""
        if self._walk is not None:
            self._walk.close()
            self._walk = None
        for iterable in self._flattened:
            shutdown_workers(iterable)

    def __repr__(self) -> str:
        return f"CombinedLoader(mode={self._mode!r}, iterables={len(self._flattened)})"
