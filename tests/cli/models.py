"""Small seeded models and data modules the CLI tests build by name (``tests.cli.models.X``)."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st

# every test run: quick, silent, nothing written unless a test asks for it
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
         "--trainer.limit_train_batches=4", "--trainer.limit_val_batches=2",
         "--trainer.limit_test_batches=2", "--trainer.num_sanity_val_steps=0"]


class Regressor(st.StateModule):
    """Linear -> tanh -> linear on 4 features; counts its predict steps."""

    def __init__(self, hidden: int = 8, lr: float = 0.1, in_features: int = 4):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.predicted = 0

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        loss = nn.functional.mse_loss(self(batch[0]), batch[1])
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", nn.functional.mse_loss(self(batch[0]), batch[1]))

    def test_step(self, batch, batch_idx):
        self.log("test_loss", nn.functional.mse_loss(self(batch[0]), batch[1]))

    def predict_step(self, batch, batch_idx):
        self.predicted += 1
        return self(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class WideRegressor(Regressor):
    """A Regressor with a wider default and a second hidden layer (for subclass mode)."""

    def __init__(self, hidden: int = 32, lr: float = 0.1, in_features: int = 4, depth: int = 2):
        super().__init__(hidden=hidden, lr=lr, in_features=in_features)
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh(),
                                 *[m for _ in range(depth - 1) for m in (nn.Linear(hidden, hidden), nn.Tanh())],
                                 nn.Linear(hidden, 1))


class NoOptimizerRegressor(Regressor):
    """A Regressor that leaves its optimizer to ``--optimizer``."""

    configure_optimizers = st.StateModule.configure_optimizers


class RandomData(st.DataModule):
    """Seeded regression rows (not shuffled, so runs under any library draw the same batches)."""

    def __init__(self, batch_size: int = 8, rows: int = 64, num_features: int = 4, seed: int = 0):
        super().__init__()
        self.save_hyperparameters()
        generator = torch.Generator().manual_seed(seed)
        x = torch.randn(rows, num_features, generator=generator)
        y = x.sum(dim=1, keepdim=True) + 0.1 * torch.randn(rows, 1, generator=generator)
        self.dataset = TensorDataset(x, y)

    @property
    def num_features(self) -> int:
        return self.hparams.num_features

    def loader(self):
        return DataLoader(self.dataset, batch_size=self.hparams.batch_size)

    def train_dataloader(self):
        return self.loader()

    def val_dataloader(self):
        return self.loader()

    def test_dataloader(self):
        return self.loader()

    def predict_dataloader(self):
        return self.loader()


class OtherData(RandomData):
    """RandomData with more rows by default (for subclass mode)."""

    def __init__(self, batch_size: int = 4, rows: int = 32, num_features: int = 4, seed: int = 3):
        super().__init__(batch_size=batch_size, rows=rows, num_features=num_features, seed=seed)
