"""Lightning's `lightning.pytorch.core` path: the module and datamodule classes under both names."""
from statetrainer.core.datamodule import DataModule, LightningDataModule
from statetrainer.core.module import LightningModule, StateModule

__all__ = ["DataModule", "LightningDataModule", "LightningModule", "StateModule"]
