"""BasePredictionWriter: write predictions as they are made, or all at once when predict ends.

Subclass it and implement ``write_on_batch_end`` (for ``write_interval="batch"``),
``write_on_epoch_end`` (for ``"epoch"``) or both (``"batch_and_epoch"``). Alongside each prediction
the writer gets the dataset indices it was made from (``batch_indices``), so predictions written
out of order, or by several processes, can be matched to their samples; they come from
``trainer.predict_batch_indices`` and are None when the dataloader cannot tell (it is not a
DataLoader, or iterates an IterableDataset).
"""
from __future__ import annotations

import copy
from enum import Enum
from typing import Any, Optional, Sequence

import torch

from statetrainer.callbacks.callback import Callback
from statetrainer.errors import flag_error

__all__ = ["BasePredictionWriter", "WriteInterval"]


class WriteInterval(Enum):
    """When a prediction writer writes: after every batch, once at the end, or both."""

    BATCH = "batch"
    EPOCH = "epoch"
    BATCH_AND_EPOCH = "batch_and_epoch"

    @property
    def on_batch(self) -> bool:
        return self in (WriteInterval.BATCH, WriteInterval.BATCH_AND_EPOCH)

    @property
    def on_epoch(self) -> bool:
        return self in (WriteInterval.EPOCH, WriteInterval.BATCH_AND_EPOCH)


class BasePredictionWriter(Callback):
    """Base class of callbacks that store predictions (see the module docstring).

    Args:
        write_interval: "batch", "epoch" or "batch_and_epoch".
    """

    def __init__(self, write_interval: str = "batch") -> None:
        if write_interval not in [interval.value for interval in WriteInterval]:
            raise flag_error("BasePredictionWriter(write_interval)", write_interval,
                             "'batch', 'epoch' or 'batch_and_epoch'")
        self.interval = WriteInterval(write_interval)
        self._predictions: list[list[Any]] = []     # per dataloader, kept for write_on_epoch_end
        self._batch_indices: list[list[list[int]]] = []

    # ---------------------------------------------------------------- to implement
    def write_on_batch_end(self, trainer, pl_module, prediction: Any, batch_indices: Optional[Sequence[int]],
                           batch: Any, batch_idx: int, dataloader_idx: int) -> None:
        """Write the prediction of one batch."""
        raise NotImplementedError(f"{type(self).__name__} writes on batch end but does not define "
                                  "write_on_batch_end(trainer, pl_module, prediction, batch_indices, batch, batch_idx, "
                                  "dataloader_idx).")

    def write_on_epoch_end(self, trainer, pl_module, predictions: Sequence[Any],
                           batch_indices: Sequence[Any]) -> None:
        """Write every prediction of the predict run (a list per dataloader when there are several)."""
        raise NotImplementedError(f"{type(self).__name__} writes on epoch end but does not define "
                                  "write_on_epoch_end(trainer, pl_module, predictions, batch_indices).")

    # ---------------------------------------------------------------- hooks
    def on_predict_epoch_start(self, trainer, pl_module) -> None:
        count = len(trainer.num_predict_batches)  # one entry per predict dataloader
        self._predictions = [[] for _ in range(count)]
        self._batch_indices = [[] for _ in range(count)]

    def on_predict_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int,
                             dataloader_idx: int = 0) -> None:
        indices = getattr(trainer, "predict_batch_indices", None)
        if self.interval.on_batch:
            self.write_on_batch_end(trainer, pl_module, outputs, indices, batch, batch_idx, dataloader_idx)
        if self.interval.on_epoch:
            while len(self._predictions) <= dataloader_idx:
                self._predictions.append([])
                self._batch_indices.append([])
            self._predictions[dataloader_idx].append(_on_cpu(outputs))
            if indices is not None:
                self._batch_indices[dataloader_idx].append(list(indices))

    def on_predict_epoch_end(self, trainer, pl_module) -> None:
        if not self.interval.on_epoch:
            return
        predictions, indices = self._predictions, self._batch_indices
        self._predictions, self._batch_indices = [], []
        flat = predictions[0] if len(predictions) == 1 else predictions
        self.write_on_epoch_end(trainer, pl_module, flat, indices)


def _on_cpu(value: Any) -> Any:
    """`value` with every tensor in it (nested in lists, tuples, dicts) moved to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        moved = copy.copy(value)  # keeps the mapping's type (OrderedDict, defaultdict...)
        moved.update((key, _on_cpu(item)) for key, item in value.items())
        return moved
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_on_cpu(item) for item in value)
    return value
