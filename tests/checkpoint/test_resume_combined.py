"""Resuming fit over several train loaders (two shuffled, seeded DataLoaders of different lengths,
combined as Lightning does) ends with the uninterrupted run's batches and weights, bit for bit."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler

import statetrainer as st

from .helpers import QUIET, dataset, same_weights

MODES = ("max_size_cycle", "min_size", "max_size")


class TwoSources(st.StateModule):
    """Trains on the sum of the two loaders' losses; records the first feature of every batch it sees."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 1)
        self.drop = nn.Dropout(0.3)
        self.seen: list = []

    def training_step(self, batch, batch_idx):
        parts = [part for part in (batch["a"], batch["b"]) if part is not None]
        self.seen.append((self.current_epoch, batch_idx, [round(x[0, 0].item(), 5) for x, _ in parts]))
        return sum(nn.functional.mse_loss(self.drop(self.layer(x)), y) for x, y in parts)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)


def _loaders(mode: str):
    """a: shuffled by the loader's generator (10 batches); b: by its sampler's generator (4 batches)."""
    long, short = dataset(40, seed=1), dataset(12, seed=2)
    a = DataLoader(long, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(123))
    b = DataLoader(short, batch_size=3, sampler=RandomSampler(short, generator=torch.Generator().manual_seed(5)))
    train = {"a": a, "b": b} if mode == "max_size_cycle" else st.utilities.CombinedLoader({"a": a, "b": b}, mode)
    return train, DataLoader(dataset(8, seed=3), batch_size=4)


def _fit(root, mode, ckpt_path=None, callbacks=()):
    st.seed_everything(7)
    model = TwoSources()
    trainer = st.Trainer(default_root_dir=root, max_epochs=3, val_check_interval=3, callbacks=list(callbacks),
                         **QUIET)
    train, val = _loaders(mode)
    trainer.fit(model, train, val, ckpt_path=ckpt_path)
    return model, trainer


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    runs = {}
    for mode in MODES:
        root = tmp_path_factory.mktemp(mode)
        every = st.callbacks.ModelCheckpoint(dirpath=root / "ck", every_n_train_steps=1, save_top_k=-1,
                                             filename="{step}")
        model, trainer = _fit(root, mode, callbacks=[every])
        runs[mode] = (model, trainer.global_step, root / "ck")
    return runs


# mid-epoch (the shorter loader already restarted in max_size_cycle), right before an in-epoch
# validation, at an epoch's last batch, and in the second epoch
STEPS = {"max_size_cycle": (2, 6, 9, 10, 14), "min_size": (2, 3, 4, 6), "max_size": (2, 6, 10, 13)}
CASES = [(mode, step) for mode, steps in STEPS.items() for step in steps]


@pytest.mark.parametrize("mode, step", CASES, ids=[f"{mode}-step{step}" for mode, step in CASES])
def test_resume_over_two_shuffled_loaders_is_exact(references, tmp_path, mode, step):
    reference, total_steps, folder = references[mode]
    model, trainer = _fit(tmp_path, mode, ckpt_path=str(folder / f"step={step}.ckpt"))
    assert trainer.global_step == total_steps
    assert model.seen == reference.seen[step:]   # the resumed run trains on exactly the batches that were left
    assert same_weights(model, reference)


def test_the_two_loaders_really_differ_by_epoch(references):
    """The check above has teeth: each epoch draws a new order from both generators."""
    reference = references["max_size_cycle"][0]
    first = [seen[2] for seen in reference.seen if seen[0] == 0]
    second = [seen[2] for seen in reference.seen if seen[0] == 1]
    assert len(first) == len(second) == 10 and first != second
    assert first[0][1] != first[4][1]  # b restarted after its 4 batches, in another order
