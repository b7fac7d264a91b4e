"""Giving each rank its share of a DataLoader: the functions the feed calls when a run has several processes."""
from __future__ import annotations

import copy
import inspect
from typing import Any

from torch.utils.data import (BatchSampler, DataLoader, DistributedSampler, IterableDataset, RandomSampler, Sampler,
                              SequentialSampler)

from statetrainer.data.sampler_wrapper import DistributedSamplerWrapper
from statetrainer.errors import MisconfigurationError

__all__ = ["distributed_sampler_for", "set_sampler_epoch", "is_shuffled"]

_NOT_COPIED = {"self", "dataset", "batch_size", "shuffle", "sampler", "batch_sampler", "drop_last"}


def _user_sampler(loader: DataLoader) -> Sampler:
    inner = getattr(loader.batch_sampler, "sampler", None)
    return inner if inner is not None else loader.sampler


def is_shuffled(loader: DataLoader) -> bool:
    """Whether the user asked this loader to shuffle (its sampler is a RandomSampler)."""
    sampler = _user_sampler(loader)
    return isinstance(sampler, (RandomSampler, DistributedSampler)) and getattr(sampler, "shuffle", True)


def _is_plain_shuffle(sampler: Sampler) -> bool:
    return (type(sampler) is RandomSampler and not sampler.replacement
            and sampler.num_samples == len(sampler.data_source))


def _rank_sampler(loader: DataLoader, user_sampler: Sampler, split: dict) -> Sampler:
    """The sampler for this rank: torch's DistributedSampler in the plain cases, else a wrapper of the user's."""
    plain = type(user_sampler) is SequentialSampler or _is_plain_shuffle(user_sampler)
    if plain and split["even"]:
        return DistributedSampler(loader.dataset, num_replicas=split["num_replicas"], rank=split["rank"],
                                  shuffle=split["shuffle"], seed=split["seed"], drop_last=split["drop_last"])
    base = SequentialSampler(loader.dataset) if plain else user_sampler
    return DistributedSamplerWrapper(base, **split)


def _loader_settings(loader: DataLoader) -> dict[str, Any]:
    """The user's DataLoader arguments other than how batches are sampled (workers, collate_fn, generator...)."""
    names = set(inspect.signature(DataLoader.__init__).parameters) - _NOT_COPIED
    settings = {name: getattr(loader, name) for name in names if hasattr(loader, name)}
    if settings.get("num_workers", 0) == 0:
        settings.pop("prefetch_factor", None)
        settings["persistent_workers"] = False
    return settings


def _rebuild(loader: DataLoader, sampling: dict[str, Any]) -> DataLoader:
    try:
        return type(loader)(loader.dataset, **sampling, **_loader_settings(loader))
    except TypeError as error:
        raise MisconfigurationError(
            f"`use_distributed_sampler` could not rebuild a {type(loader).__name__} with a distributed sampler "
            f"({error}); accepted: a DataLoader (or a subclass taking DataLoader's arguments), or "
            "use_distributed_sampler=False and each rank's share chosen by you.") from error


def distributed_sampler_for(loader: DataLoader, *, num_replicas: int, rank: int, shuffle: bool | None = None,
                            seed: int = 0, drop_last: bool = False, even: bool = True) -> DataLoader:
    """A new DataLoader that yields only this rank's share of `loader`'s samples.

    Keeps batch size, collate_fn, workers, generator and the other settings. `shuffle=None`
    keeps the user's choice (shuffled iff the loader's sampler is a RandomSampler). A custom
    sampler is wrapped (`DistributedSamplerWrapper`), a custom batch sampler keeps its class and
    gets the wrapped sampler. Loaders over an IterableDataset, or already holding a
    DistributedSampler, come back unchanged (such a dataset must shard itself). Call `set_sampler_epoch` each epoch so the shuffle changes.
    """
    if isinstance(loader.dataset, IterableDataset):
        return loader
    if isinstance(_user_sampler(loader), (DistributedSampler, DistributedSamplerWrapper)):
        return loader  # already split by the user
    split = {"num_replicas": num_replicas, "rank": rank, "seed": seed, "drop_last": drop_last, "even": even,
             "shuffle": is_shuffled(loader) if shuffle is None else bool(shuffle)}
    batch_sampler = loader.batch_sampler
    if batch_sampler is None:  # batch_size=None: the sampler yields the items themselves
        return _rebuild(loader, {"batch_size": None, "sampler": _rank_sampler(loader, loader.sampler, split)})
    if type(batch_sampler) is BatchSampler:
        sampler = _rank_sampler(loader, batch_sampler.sampler, split)
        return _rebuild(loader, {"batch_size": batch_sampler.batch_size, "drop_last": batch_sampler.drop_last,
                                 "sampler": sampler})
    if not isinstance(getattr(batch_sampler, "sampler", None), Sampler):
        raise MisconfigurationError(
            f"`use_distributed_sampler` got a loader whose batch_sampler ({type(batch_sampler).__name__}) has no "
            "`sampler` attribute to split; accepted: a batch sampler drawing from `self.sampler`, or "
            "use_distributed_sampler=False and each rank's share chosen by you.")
    per_rank = copy.copy(batch_sampler)
    per_rank.sampler = _rank_sampler(loader, batch_sampler.sampler, split)
    return _rebuild(loader, {"batch_sampler": per_rank})


def set_sampler_epoch(loader: Any, epoch: int) -> None:
    """Tell every sampler of `loader` that has `set_epoch` which epoch starts (so the shuffle changes)."""
    seen: set[int] = set()
    batch_sampler = getattr(loader, "batch_sampler", None)
    for sampler in (getattr(loader, "sampler", None), batch_sampler, getattr(batch_sampler, "sampler", None)):
        if sampler is not None and id(sampler) not in seen and callable(getattr(sampler, "set_epoch", None)):
            seen.add(id(sampler))
            sampler.set_epoch(epoch)
