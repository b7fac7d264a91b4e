"""Small deterministic models and trainers shared by the checkpoint, callback and fault tests."""
from __future__ import annotations

import os
from typing import Any, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st

QUIET = dict(enable_progress_bar=False, enable_model_summary=False, logger=False)


def dataset(n: int = 40, seed: int = 1) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, 4, generator=g), torch.randn(n, 1, generator=g))


def loaders(n: int = 40, batch_size: int = 4, shuffle: bool = True) -> tuple[DataLoader, DataLoader]:
    data = dataset(n)
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle), DataLoader(data, batch_size=20)


class Net(st.StateModule):
    """Dropout, Adam and a StepLR: every kind of state a resume must carry (weights, RNG, optimizer, scheduler)."""

    def __init__(self, hidden: int = 8, lr: float = 0.01):
        super().__init__()
        self.save_hyperparameters()
        self.inner = nn.Linear(4, hidden)
        self.out = nn.Linear(hidden, 1)
        self.drop = nn.Dropout(0.3)

    def forward(self, x):
        return self.out(self.drop(torch.relu(self.inner(x))))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self(x), y))

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 3, gamma=0.5)}


class Scripted(st.StateModule):
    """Logs `val_loss = values[k]` at the k-th validation run (sanity checks excluded)."""

    def __init__(self, values: Sequence[float], name: str = "val_loss"):
        super().__init__()
        self.values, self.name, self.runs = list(values), name, 0
        self.layer = nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).sum()

    def validation_step(self, batch, batch_idx):
        self.log(self.name, torch.tensor(self.values[min(self.runs, len(self.values) - 1)]))

    def on_validation_epoch_end(self):
        if not self.trainer.sanity_checking:
            self.runs += 1

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def fit(root: os.PathLike | str, model: st.StateModule | None = None, ckpt_path: Any = None,
        callbacks: Sequence[st.Callback] = (), seed: int = 7, **flags: Any) -> tuple[st.StateModule, st.Trainer]:
    """Seeded fit of `model` (default Net) on the shared data; returns (model, trainer)."""
    st.seed_everything(seed)
    model = model if model is not None else Net()
    options = {**QUIET, "max_epochs": 3, "deterministic": True, **flags}
    trainer = st.Trainer(default_root_dir=str(root), callbacks=list(callbacks), **options)
    train, val = loaders()
    trainer.fit(model, train, val, ckpt_path=ckpt_path)
    return model, trainer


def same_weights(left: nn.Module, right: nn.Module) -> bool:
    a, b = left.state_dict(), right.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
