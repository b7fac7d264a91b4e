"""A small Lightning program driven by LightningCLI, written as a Lightning user would.

    python plain_cli.py fit --config config.yaml --trainer.max_epochs=2

tests/cli/test_port.py runs it under lightning and, with the imports changed, under statetrainer.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import LightningCLI


class Regressor(LightningModule):
    """A two-layer perceptron fitting y = x @ w + noise."""

    def __init__(self, in_features: int = 4, hidden: int = 8, lr: float = 0.05):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self(x), y))

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.log("test_loss", nn.functional.mse_loss(self(x), y))

    def predict_step(self, batch, batch_idx):
        return self(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class RegressionData(LightningDataModule):
    """Seeded random regression data, 64 training and 32 validation rows."""

    def __init__(self, batch_size: int = 16, num_features: int = 4, seed: int = 0):
        super().__init__()
        self.save_hyperparameters()
        generator = torch.Generator().manual_seed(seed)
        x = torch.randn(96, num_features, generator=generator)
        y = x @ torch.randn(num_features, 1, generator=generator) + 0.1 * torch.randn(96, 1, generator=generator)
        self.train_set = TensorDataset(x[:64], y[:64])
        self.val_set = TensorDataset(x[64:], y[64:])

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.hparams.batch_size)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size)

    def test_dataloader(self):
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size)

    def predict_dataloader(self):
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size)


def cli_main(args=None):
    return LightningCLI(Regressor, RegressionData, args=args)


if __name__ == "__main__":
    cli_main()
