"""Lightning's `lightning.pytorch.core.datamodule` path: LightningDataModule is DataModule (the same class)."""
from statetrainer.data.datamodule import DataModule

LightningDataModule = DataModule

__all__ = ["DataModule", "LightningDataModule"]
