"""distributed_sampler_for / DistributedSamplerWrapper / set_sampler_epoch, in one process (ranks simulated).

Where Lightning has the same sampler, the indices are compared with it (differential).
"""
import pytest
import torch
from torch.utils.data import (BatchSampler, DataLoader, DistributedSampler, IterableDataset, Sampler,
                              SequentialSampler, TensorDataset)

from statetrainer.data.distributed import distributed_sampler_for, is_shuffled, set_sampler_epoch
from statetrainer.data.sampler_wrapper import DistributedSamplerWrapper
from statetrainer.errors import MisconfigurationError

lightning_distributed = pytest.importorskip("lightning.fabric.utilities.distributed")
lightning_overrides = pytest.importorskip("lightning.pytorch.overrides.distributed")


def items(loader):
    """Every sample index the loader yields, in order (batches flattened)."""
    out = []
    for batch in loader:
        values = batch[0] if isinstance(batch, list) else batch
        out += values.flatten().tolist()
    return out


def dataset(n=10):
    return TensorDataset(torch.arange(n))


class Reversed(Sampler):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n - 1, -1, -1))

    def __len__(self):
        return self.n


def per_rank(loader, replicas, epoch=0, **kwargs):
    shares = []
    for rank in range(replicas):
        split = distributed_sampler_for(loader, num_replicas=replicas, rank=rank, **kwargs)
        set_sampler_epoch(split, epoch)
        shares.append(items(split))
    return shares


@pytest.mark.parametrize("shuffle", [False, True])
def test_ranks_get_disjoint_complete_shares_and_keep_the_loader_settings(shuffle):
    collate = lambda batch: torch.stack([b[0] for b in batch])  # noqa: E731
    gen = torch.Generator().manual_seed(3)
    loader = DataLoader(dataset(10), batch_size=3, shuffle=shuffle, collate_fn=collate, generator=gen, drop_last=False)
    split = distributed_sampler_for(loader, num_replicas=2, rank=1)
    assert isinstance(split.sampler, DistributedSampler) and split.sampler.shuffle is shuffle
    assert (split.batch_size, split.collate_fn, split.generator, split.drop_last) == (3, collate, gen, False)
    shares = per_rank(loader, 2)
    assert sorted(shares[0] + shares[1]) == list(range(10)) and not set(shares[0]) & set(shares[1])
    if not shuffle:
        assert shares == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]  # torch's DistributedSampler interleaves
    assert is_shuffled(loader) is shuffle and loader.sampler is not split.sampler  # the user's loader is untouched


def test_set_epoch_changes_the_order_and_the_same_epoch_repeats_it():
    loader = DataLoader(dataset(16), batch_size=4, shuffle=True)
    assert per_rank(loader, 2, epoch=0) == per_rank(loader, 2, epoch=0)
    assert per_rank(loader, 2, epoch=0) != per_rank(loader, 2, epoch=1)
    assert per_rank(loader, 2, epoch=1, shuffle=False) == per_rank(loader, 2, epoch=0, shuffle=False)


def test_uneven_lengths_pad_drop_or_stay_uneven():
    loader = DataLoader(dataset(10), batch_size=None)
    padded = per_rank(loader, 3)
    assert [len(s) for s in padded] == [4, 4, 4] and sorted(sum(padded, [])) == sorted(list(range(10)) + [0, 1])
    assert [len(s) for s in per_rank(loader, 3, drop_last=True)] == [3, 3, 3]
    assert per_rank(loader, 3, even=False) == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]  # for prediction: no repeats


def test_a_custom_sampler_is_wrapped_and_its_order_kept():
    loader = DataLoader(dataset(10), batch_size=2, sampler=Reversed(10))
    split = distributed_sampler_for(loader, num_replicas=2, rank=0)
    assert isinstance(split.sampler, DistributedSamplerWrapper) and isinstance(split.sampler.sampler, Reversed)
    assert per_rank(loader, 2) == [[9, 7, 5, 3, 1], [8, 6, 4, 2, 0]]


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_the_wrapper_yields_what_lightnings_wrappers_yield(shuffle, drop_last):
    for replicas in (2, 3):
        for rank in range(replicas):
            for epoch in (0, 1):
                ours = DistributedSamplerWrapper(Reversed(11), num_replicas=replicas, rank=rank, shuffle=shuffle,
                                                 seed=7, drop_last=drop_last)
                theirs = lightning_distributed.DistributedSamplerWrapper(
                    Reversed(11), num_replicas=replicas, rank=rank, shuffle=shuffle, seed=7, drop_last=drop_last)
                ours.set_epoch(epoch)
                theirs.set_epoch(epoch)
                assert list(ours) == list(theirs) and len(ours) == len(theirs)
                # Lightning's unrepeated sampler shuffles with the epoch alone (its `seed` is ignored): compare at 0
                uneven = DistributedSamplerWrapper(Reversed(11), num_replicas=replicas, rank=rank, shuffle=shuffle,
                                                   seed=0, even=False)
                unrepeated = lightning_overrides.UnrepeatedDistributedSamplerWrapper(
                    Reversed(11), num_replicas=replicas, rank=rank, shuffle=shuffle, seed=0)
                uneven.set_epoch(epoch)
                unrepeated.set_epoch(epoch)
                assert list(uneven) == list(unrepeated) and len(uneven) == len(unrepeated)


class EvenOddBatches(Sampler):
    """A user's batch sampler: batches of two from `self.sampler`, kept as its own class."""

    def __init__(self, sampler):
        self.sampler = sampler

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == 2:
                yield batch
                batch = []
        if batch:
            yield batch

    def __len__(self):
        return (len(self.sampler) + 1) // 2


def test_a_custom_batch_sampler_keeps_its_class_and_draws_from_the_split():
    loader = DataLoader(dataset(8), batch_sampler=EvenOddBatches(SequentialSampler(range(8))))
    split = distributed_sampler_for(loader, num_replicas=2, rank=1)
    assert type(split.batch_sampler) is EvenOddBatches and loader.batch_sampler.sampler is not split.batch_sampler.sampler
    assert items(split) == [1, 3, 5, 7]


def test_loaders_that_cannot_or_need_not_be_split():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(4))

    stream = DataLoader(Stream(), batch_size=2)
    assert distributed_sampler_for(stream, num_replicas=2, rank=0) is stream
    already = DataLoader(dataset(4), sampler=DistributedSampler(dataset(4), num_replicas=2, rank=0))
    assert distributed_sampler_for(already, num_replicas=2, rank=0) is already

    class Fixed(DataLoader):
        def __init__(self, data):
            super().__init__(data, batch_size=2)

    with pytest.raises(MisconfigurationError, match=r"^`use_distributed_sampler` could not rebuild a Fixed with a "
                                                    r"distributed sampler \(.*\); accepted: a DataLoader"):
        distributed_sampler_for(Fixed(dataset(4)), num_replicas=2, rank=0)

    class NoSampler:
        def __iter__(self):
            return iter([[0, 1]])

    odd = DataLoader(dataset(4), batch_sampler=NoSampler())
    with pytest.raises(MisconfigurationError, match=r"batch_sampler \(NoSampler\) has no `sampler` attribute"):
        distributed_sampler_for(odd, num_replicas=2, rank=0)


def test_set_sampler_epoch_reaches_the_sampler_inside_a_batch_sampler():
    wrapped = DistributedSamplerWrapper(Reversed(4), num_replicas=2, rank=0)
    loader = DataLoader(dataset(4), batch_sampler=BatchSampler(wrapped, batch_size=2, drop_last=False))
    set_sampler_epoch(loader, 5)
    assert wrapped.epoch == 5
    with pytest.raises(ValueError, match=r"`rank` got 2; accepted: an int in \[0, 1\]"):
        DistributedSamplerWrapper(Reversed(4), num_replicas=2, rank=2)


def test_a_wrapped_samplers_generator_is_captured_so_an_epoch_replays_exactly():
    from statetrainer.loop import data_state
    drawing = torch.utils.data.RandomSampler(range(8), replacement=True, num_samples=8,
                                             generator=torch.Generator().manual_seed(3))
    split = distributed_sampler_for(DataLoader(dataset(8), sampler=drawing, batch_size=2), num_replicas=2, rank=1)
    assert isinstance(split.sampler, DistributedSamplerWrapper) and split.sampler.generator is drawing.generator
    at_start = data_state.capture(split)
    first = items(split)
    assert items(split) != first  # the generator moved on
    data_state.restore(split, at_start)
    assert items(split) == first
