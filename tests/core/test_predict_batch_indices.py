"""trainer.predict_batch_indices: the dataset indices of each predict batch (what prediction writers need)."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

import statetrainer as st

QUIET = dict(enable_progress_bar=False, enable_model_summary=False, logger=False, enable_checkpointing=False)


class Model(st.StateModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        return batch[0]


class Spy(st.Callback):
    def __init__(self):
        self.seen = []

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self.seen.append((dataloader_idx, trainer.predict_batch_indices, outputs.flatten().long().tolist()))


def _data(n):
    return TensorDataset(torch.arange(n, dtype=torch.float32).unsqueeze(1))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_indices_are_those_the_sampler_gave_each_batch(num_workers):
    spy = Spy()
    trainer = st.Trainer(callbacks=[spy], limit_predict_batches=3, **QUIET)
    shuffled = DataLoader(_data(10), batch_size=3, shuffle=True, num_workers=num_workers,
                          generator=torch.Generator().manual_seed(4))
    plain = DataLoader(_data(5), batch_size=2)
    trainer.predict(Model(), [shuffled, plain])
    assert len(spy.seen) == 6
    for dl_idx, indices, values in spy.seen:  # the data is arange: each value is its own index
        assert indices == values
    assert [dl for dl, _, _ in spy.seen] == [0, 0, 0, 1, 1, 1]
    assert trainer.predict_batch_indices is None  # outside a predict run


def test_none_when_the_loader_cannot_tell():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter([torch.ones(1), torch.ones(1)])

    class Batches:  # an iterable of batches that is not a DataLoader (a plain list would be read as loaders)
        def __iter__(self):
            return iter([(torch.zeros(1),)])

    spy = Spy()
    trainer = st.Trainer(callbacks=[spy], **QUIET)
    trainer.predict(Model(), [DataLoader(Stream(), batch_size=1), Batches()])
    assert [indices for _, indices, _ in spy.seen] == [None, None, None]


def test_the_users_loader_is_left_alone():
    loader = DataLoader(_data(4), batch_size=2)
    sampler = loader.batch_sampler
    trainer = st.Trainer(**QUIET)
    trainer.predict(Model(), loader)
    assert loader.batch_sampler is sampler
    assert trainer.predict_dataloaders is loader
