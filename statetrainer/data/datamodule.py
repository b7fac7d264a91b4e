"""DataModule: Lightning's LightningDataModule surface."""
from __future__ import annotations

import inspect
from typing import Any

from statetrainer.loop.transfer import move_to_device

__all__ = ["DataModule"]


class DataModule:
    """Groups the data hooks: prepare_data, setup, *_dataloader, teardown, and batch transfer."""

    name: str | None = None

    def __init__(self) -> None:
        self.trainer = None
        self.prepare_data_per_node = True
        self._hparams: Any = None
        self._hparams_initial: Any = None

    def prepare_data(self) -> None: ...
    def setup(self, stage: str) -> None: ...
    def teardown(self, stage: str) -> None: ...

    def train_dataloader(self):
        raise NotImplementedError

    def val_dataloader(self):
        raise NotImplementedError

    def test_dataloader(self):
        raise NotImplementedError

    def predict_dataloader(self):
        raise NotImplementedError

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return batch

    def transfer_batch_to_device(self, batch: Any, device, dataloader_idx: int) -> Any:
        return move_to_device(batch, device)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return batch

    def on_exception(self, exception: BaseException) -> None: ...
    def on_save_checkpoint(self, checkpoint: dict) -> None: ...
    def on_load_checkpoint(self, checkpoint: dict) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        pass

    # hyper-parameters (shared implementation with StateModule)
    def save_hyperparameters(self, *args: Any, ignore=None, frame=None, logger: bool = True,
                             non_plain: str = "error") -> None:
        from statetrainer.module import hparams
        frame = frame or inspect.currentframe().f_back
        hparams.save_hyperparameters(self, *args, ignore=ignore, frame=frame, logger=logger, non_plain=non_plain)

    @property
    def hparams(self):
        from statetrainer.module import hparams
        return hparams.get_hparams(self)

    @property
    def hparams_initial(self):
        from statetrainer.module import hparams
        return hparams.get_hparams_initial(self)

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, map_location=None, hparams_file=None, **kwargs: Any):
        from statetrainer.module import hparams
        return hparams.load_from_checkpoint(cls, checkpoint_path, map_location=map_location,
                                            hparams_file=hparams_file, strict=None, **kwargs)
