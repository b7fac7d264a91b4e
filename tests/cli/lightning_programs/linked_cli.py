"""A Lightning program that subclasses LightningCLI: extra option groups and linked arguments.

    python linked_cli.py fit --config config.yaml --optimizer=Adam --optimizer.lr=0.01

The model's input width comes from the data module (linked when both are built), its batch
size from the data options (linked at parse time), and early stopping has its own option group.
The model has no configure_optimizers: the optimizer comes from --optimizer.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI


class Classifier(LightningModule):
    def __init__(self, in_features: int, batch_size: int, hidden: int = 16):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 3))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(dim=1) == y).float().mean())


class BlobData(LightningDataModule):
    def __init__(self, batch_size: int = 8, dims: int = 5, rows: int = 90):
        super().__init__()
        self.batch_size = batch_size
        self.dims = dims
        generator = torch.Generator().manual_seed(1)
        centers = 2.0 * torch.randn(3, dims, generator=generator)
        labels = torch.arange(rows) % 3
        x = centers[labels] + torch.randn(rows, dims, generator=generator)
        self.train_set = TensorDataset(x[: rows * 2 // 3], labels[: rows * 2 // 3])
        self.val_set = TensorDataset(x[rows * 2 // 3 :], labels[rows * 2 // 3 :])

    @property
    def num_features(self):
        return self.dims

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.batch_size)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=self.batch_size)


class ClassifierCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(EarlyStopping, "early_stopping")
        parser.set_defaults({"early_stopping.monitor": "val_loss", "early_stopping.patience": 2})
        parser.link_arguments("data.batch_size", "model.batch_size")
        parser.link_arguments("data.num_features", "model.in_features", apply_on="instantiate")


def cli_main(args=None):
    return ClassifierCLI(Classifier, BlobData, args=args)


if __name__ == "__main__":
    cli_main()
