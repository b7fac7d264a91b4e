"""DataModule: Lightning's LightningDataModule surface."""
from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping

from torch.utils.data import DataLoader, Dataset, IterableDataset

from statetrainer.data.summary import loaders_summary
from statetrainer.errors import MisconfigurationError
from statetrainer.module.data_hooks import DataHooks
from statetrainer.module.hyperparameters import HyperparametersBase

__all__ = ["DataModule", "split_datamodule"]

_STAGES = ("train", "val", "test", "predict")


class DataModule(DataHooks, HyperparametersBase):
    """Groups the data hooks: prepare_data, setup, *_dataloader, teardown, and batch transfer."""

    name: str | None = None
    # the checkpoint keys of the datamodule's hyper-parameters (Lightning's names and values)
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

    def __str__(self) -> str:
        """One `{<Stage> dataloader: size=N}` line per loader hook (None where the hook has no data yet)."""
        return loaders_summary(self)

    @classmethod
    def from_datasets(cls, train_dataset: Any = None, val_dataset: Any = None, test_dataset: Any = None,
                      predict_dataset: Any = None, batch_size: int = 1, num_workers: int = 0,
                      **datamodule_kwargs: Any) -> "DataModule":
        """A datamodule whose *_dataloader hooks wrap the given datasets (a Dataset, or a list/tuple/dict of
        them) in DataLoaders with `batch_size` and `num_workers` (train shuffled unless iterable-style).
        `batch_size` / `num_workers` also go to `__init__` when it takes them; `datamodule_kwargs` always do.

        The result is an instance of a subclass of `cls` that defines the hooks for the datasets given."""
        datasets = dict(zip(_STAGES, (train_dataset, val_dataset, test_dataset, predict_dataset)))
        hooks = {f"{stage}_dataloader": _hook(data, batch_size, num_workers, shuffle=stage == "train")
                 for stage, data in datasets.items() if data is not None}
        sub = type(cls.__name__, (cls,), {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                                          "__doc__": cls.__doc__, **hooks})
        return sub(**datamodule_kwargs, **_init_kwargs(cls, batch_size=batch_size, num_workers=num_workers))


def _init_kwargs(cls: type, **candidates: Any) -> dict:
    """The candidates `cls.__init__` accepts by name (all of them when it takes **kwargs)."""
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return candidates
    return {name: value for name, value in candidates.items() if name in params and name != "self"}


def _hook(data: Any, batch_size: int, num_workers: int, shuffle: bool) -> Callable:
    def loader(ds: Dataset) -> DataLoader:
        return DataLoader(ds, batch_size=batch_size, shuffle=shuffle and not isinstance(ds, IterableDataset),
                          num_workers=num_workers, pin_memory=True)

    def dataloader_hook(self: DataModule) -> Any:
        return _map_datasets(data, loader)
    return dataloader_hook


def _map_datasets(data: Any, fn: Callable) -> Any:
    """`fn` applied to every Dataset in `data`, keeping lists, tuples and dicts around them."""
    if isinstance(data, Dataset):
        return fn(data)
    if isinstance(data, Mapping):
        return {key: _map_datasets(value, fn) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(_map_datasets(value, fn) for value in data)
    return data


def split_datamodule(loaders: Any, datamodule: Any, name: str):
    if isinstance(loaders, DataModule):
        if datamodule is not None:
            raise MisconfigurationError(f"`{name}` got a DataModule and `datamodule` is also set; accepted: one of them.")
        return None, loaders
    if loaders is not None and datamodule is not None:
        raise MisconfigurationError(f"`{name}` and `datamodule` were both given; accepted: dataloaders or a datamodule.")
    return loaders, datamodule
