"""DataModule: Lightning's LightningDataModule surface."""
from __future__ import annotations

from typing import Any

from statetrainer.errors import MisconfigurationError
from statetrainer.module.data_hooks import DataHooks
from statetrainer.module.hyperparameters import HyperparametersBase

__all__ = ["DataModule", "split_datamodule"]


class DataModule(DataHooks, HyperparametersBase):
    """Groups the data hooks: prepare_data, setup, *_dataloader, teardown, and batch transfer."""

    name: str | None = None
    CHECKPOINT_HYPER_PARAMS_KEY = "datamodule_hyper_parameters"
    CHECKPOINT_HYPER_PARAMS_NAME = "datamodule_hparams_name"
    CHECKPOINT_HYPER_PARAMS_TYPE = "datamodule_hparams_type"

    def __init__(self) -> None:
        self.trainer = None
        self.prepare_data_per_node = True
        self.allow_zero_length_dataloader_with_multiple_devices = False
        self._hparams: Any = None
        self._hparams_initial: Any = None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        pass


def split_datamodule(loaders: Any, datamodule: Any, name: str):
    if isinstance(loaders, DataModule):
        if datamodule is not None:
            raise MisconfigurationError(f"`{name}` got a DataModule and `datamodule` is also set; accepted: one of them.")
        return None, loaders
    if loaders is not None and datamodule is not None:
        raise MisconfigurationError(f"`{name}` and `datamodule` were both given; accepted: dataloaders or a datamodule.")
    return loaders, datamodule
