"""Which dataset indices each predict batch holds (for prediction writers).

`recording(loader)` returns a copy of a DataLoader whose batch sampler also writes down every list of
indices it hands out, plus that recorder; other loaders come back unchanged with no recorder. The
user's loader is not modified. Worker processes and prefetching do not matter: the batch sampler
runs in the main process, in batch order, so the k-th recorded list is the k-th batch's indices.
"""
from __future__ import annotations

import copy
from typing import Any, Iterator

__all__ = ["IndexRecorder", "recording"]


class IndexRecorder:
    """Wraps a batch sampler; `seen[k]` is the list of indices of the k-th batch of the current pass."""

    def __init__(self, batch_sampler: Any):
        self.batch_sampler = batch_sampler
        self.seen: list[list[int]] = []

    def __iter__(self) -> Iterator[list[int]]:
        self.seen = []
        for indices in self.batch_sampler:
            self.seen.append(list(indices))
            yield indices

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __getattr__(self, name: str) -> Any:  # batch_size, drop_last, sampler... of the wrapped sampler
        if name == "batch_sampler":
            raise AttributeError(name)
        return getattr(self.batch_sampler, name)

    def indices(self, batch_idx: int) -> list[int] | None:
        return self.seen[batch_idx] if 0 <= batch_idx < len(self.seen) else None


def recording(loader: Any) -> tuple[Any, IndexRecorder | None]:
    """(a copy of `loader` that records its batches' indices, the recorder), or (loader, None) when
    the loader has no batch sampler to read them from (not a DataLoader, an iterable dataset,
    batch_size=None)."""
    from torch.utils.data import DataLoader, IterableDataset
    if not isinstance(loader, DataLoader) or isinstance(loader.dataset, IterableDataset):
        return loader, None
    if loader.batch_sampler is None:
        return loader, None
    recorder = IndexRecorder(loader.batch_sampler)
    twin = copy.copy(loader)
    object.__setattr__(twin, "batch_sampler", recorder)  # DataLoader refuses a plain assignment after __init__
    return twin, recorder
