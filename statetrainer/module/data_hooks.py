"""The data hooks StateModule and DataModule share: preparing data, loaders and batch transfer."""
from __future__ import annotations

from typing import Any

import torch

from statetrainer.loop.transfer import move_to_device

__all__ = ["DataHooks"]


def _undefined(owner: Any, hook: str) -> Exception:
    """A loader hook left at its default was called (as Lightning, a MisconfigurationError)."""
    from statetrainer.errors import MisconfigurationError
    return MisconfigurationError(f"{type(owner).__name__}.{hook}() was called but {type(owner).__name__} does not "
                                 f"define it; accepted: override `{hook}` to return the loader(s).")


class DataHooks:
    """prepare_data / setup / teardown / *_dataloader / the three batch-transfer hooks."""

    def prepare_data(self) -> None: ...
    def setup(self, stage: str) -> None: ...
    def teardown(self, stage: str) -> None: ...

    def train_dataloader(self):
        raise _undefined(self, "train_dataloader")

    def val_dataloader(self):
        raise _undefined(self, "val_dataloader")

    def test_dataloader(self):
        raise _undefined(self, "test_dataloader")

    def predict_dataloader(self):
        raise _undefined(self, "predict_dataloader")

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return batch

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        return move_to_device(batch, device)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return batch

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None: ...
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None: ...
    def on_exception(self, exception: BaseException) -> None: ...
