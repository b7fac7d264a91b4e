"""DistributedSamplerWrapper: one rank's share of the indices a user's sampler yields."""
from __future__ import annotations

import math
from typing import Iterator, Sized

import torch
from torch.utils.data import Sampler

__all__ = ["DistributedSamplerWrapper"]


class DistributedSamplerWrapper(Sampler):
    """Splits the index sequence of `sampler` over `num_replicas` ranks; this one yields the `rank`-th share.

    Every rank must see the same sequence from `sampler` (seed it identically, e.g. with
    `seed_everything`). `shuffle=True` additionally permutes that sequence with `seed + epoch`.
    `even=True` pads (repeating the first indices) or, with `drop_last`, trims the sequence so
    every rank gets the same number of indices, as torch's DistributedSampler does; `even=False`
    neither pads nor drops (ranks may get one index more than others: for prediction).
    `set_epoch(epoch)` changes the shuffle and is forwarded to `sampler` when it has one.
    """

    def __init__(self, sampler: Sampler, *, num_replicas: int, rank: int, shuffle: bool = False, seed: int = 0,
                 drop_last: bool = False, even: bool = True):
        if not 0 <= rank < num_replicas:
            raise ValueError(f"`rank` got {rank}; accepted: an int in [0, {num_replicas - 1}] for "
                             f"num_replicas={num_replicas}.")
        if not isinstance(sampler, Sized):
            raise TypeError(f"`sampler` got a {type(sampler).__name__} without a length; accepted: a sampler "
                            "with __len__ (the share of each rank depends on it).")
        self.sampler = sampler
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.even = even
        self.epoch = 0

    def _total(self, count: int) -> int:
        if not self.even:
            return count
        if self.drop_last:
            return (count // self.num_replicas) * self.num_replicas
        return math.ceil(count / self.num_replicas) * self.num_replicas

    def __len__(self) -> int:
        total = self._total(len(self.sampler))
        if self.even:
            return total // self.num_replicas
        return len(range(self.rank, total, self.num_replicas))

    def __iter__(self) -> Iterator[int]:
        indices = list(iter(self.sampler))
        if self.shuffle:
            order = torch.randperm(len(indices), generator=torch.Generator().manual_seed(self.seed + self.epoch))
            indices = [indices[i] for i in order.tolist()]
        total = self._total(len(indices))
        while indices and len(indices) < total:
            indices += indices[: total - len(indices)]
        return iter(indices[self.rank:total:self.num_replicas])

    @property
    def generator(self):
        """The wrapped sampler's random generator, if any: what a resume captures and puts back (it draws the
        order this wrapper splits)."""
        return getattr(self.sampler, "generator", None)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)
