"""What the recording module does inside its hooks, per scenario.

A Behaviour method ``<hook>(module, default, *args)`` replaces the body of the module hook
``<hook>``; ``cb_<hook>(callback, trainer, module, *args)`` runs inside the recording
Callback's hook. Anything not defined here falls back to the library's default.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .harness import make_loader

TRAIN_SEED, VAL_SEED, TEST_SEED, PREDICT_SEED = 1, 2, 10, 20


def _loaders(n_loaders: int, n: int, seed: int, batch_size: int):
    loaders = [make_loader(n, seed + i, batch_size) for i in range(n_loaders)]
    return loaders[0] if n_loaders == 1 else loaders


class Behaviour:
    """The plain regression model: SGD(lr=0.1), MSE loss, batch size 2."""

    n_train = 8
    n_val = 4
    n_val_loaders = 1
    n_test = 4
    n_test_loaders = 1
    n_predict = 4
    n_predict_loaders = 1
    batch_size = 2
    lr = 0.1

    def init(self, module):
        """Called at the end of the module's __init__."""

    def loss(self, module, batch):
        x, y = batch
        return F.mse_loss(module(x), y)

    def train_dataloader(self, module, default):
        return make_loader(self.n_train, TRAIN_SEED, self.batch_size)

    def val_dataloader(self, module, default):
        return _loaders(self.n_val_loaders, self.n_val, VAL_SEED, self.batch_size)

    def test_dataloader(self, module, default):
        return _loaders(self.n_test_loaders, self.n_test, TEST_SEED, self.batch_size)

    def predict_dataloader(self, module, default):
        return _loaders(self.n_predict_loaders, self.n_predict, PREDICT_SEED, self.batch_size)

    def make_optimizers(self, module):
        return [torch.optim.SGD(module.parameters(), lr=self.lr)]

    def make_schedulers(self, module, optimizers):
        """Return (scheduler objects, what configure_optimizers returns)."""
        return [], optimizers[0]

    def configure_optimizers(self, module, default):
        optimizers = self.make_optimizers(module)
        module.created_optimizers = optimizers
        schedulers, returned = self.make_schedulers(module, optimizers)
        module.created_schedulers = schedulers
        return returned

    def training_step(self, module, default, batch, batch_idx):
        return self.loss(module, batch)

    def validation_step(self, module, default, batch, batch_idx, dataloader_idx):
        return self.loss(module, batch)

    def test_step(self, module, default, batch, batch_idx, dataloader_idx):
        return self.loss(module, batch)

    def predict_step(self, module, default, batch, batch_idx, dataloader_idx):
        x, _ = batch
        return module(x)


class LogValLoss(Behaviour):
    """Logs val_loss / test_loss with prog_bar so validate/test return something."""

    def validation_step(self, module, default, batch, batch_idx, dataloader_idx):
        loss = self.loss(module, batch)
        module.log("val_loss", loss, prog_bar=True)
        return loss

    def test_step(self, module, default, batch, batch_idx, dataloader_idx):
        loss = self.loss(module, batch)
        module.log("test_loss", loss)
        return {"loss": loss, "n": batch_idx}
