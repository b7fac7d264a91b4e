"""A small regression problem, built by factories over the base classes so one definition runs under
statetrainer and, for the differential checks, under Lightning."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st

QUIET = dict(enable_progress_bar=False, enable_model_summary=False, logger=False, enable_checkpointing=False)
WEIGHTS = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])


def regression_data(n: int = 256, seed: int = 0) -> TensorDataset:
    """y = x @ [1, -2, 0.5, 3] + 0.1 + noise: plain SGD converges for lr up to about 0.5."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=gen)
    return TensorDataset(x, x @ WEIGHTS + 0.1 + 0.05 * torch.randn(n, 1, generator=gen))


def fake_oom() -> RuntimeError:
    """What CUDA raises (the message Lightning's check looks for)."""
    return RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")


def regression_class(base: type, datamodule_base: Optional[type] = None) -> type:
    """A linear regression module with `lr` and `batch_size` attributes and a fake memory limit.

    limit: training/validation/test/predict steps raise a CUDA out-of-memory error for batches larger than this.
    sizes: the batch size of every step, in order (shows which sizes the trials ran).
    """

    class Regression(base):
        def __init__(self, lr: float = 1e-3, batch_size: int = 8, limit: Optional[int] = None, n: int = 256,
                     shuffle: bool = False):
            super().__init__()
            self.layer = nn.Linear(4, 1)
            self.lr, self.batch_size, self.limit, self.n, self.shuffle = lr, batch_size, limit, n, shuffle
            self.sizes: list[int] = []

        def _step(self, batch):
            x, y = batch
            self.sizes.append(int(x.shape[0]))
            if self.limit is not None and x.shape[0] > self.limit:
                raise fake_oom()
            return nn.functional.mse_loss(self.layer(x), y)

        def training_step(self, batch, batch_idx):
            return self._step(batch)

        def validation_step(self, batch, batch_idx):
            self._step(batch)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr)

        def train_dataloader(self):
            return DataLoader(regression_data(self.n), batch_size=self.batch_size, shuffle=self.shuffle)

        def val_dataloader(self):
            return DataLoader(regression_data(64, seed=1), batch_size=self.batch_size)

    return Regression


Regression = regression_class(st.StateModule)


def trainer(**flags) -> st.Trainer:
    return st.Trainer(**{**QUIET, "max_epochs": 3, **flags})


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
