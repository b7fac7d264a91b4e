"""Tiny models, data and recording callbacks for the core behaviour tests.

The module and callback classes are built by factories taking the base classes, so one
definition runs under statetrainer and, for the differential checks, under Lightning.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Optional

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

import statetrainer as st

QUIET = dict(enable_progress_bar=False, enable_model_summary=False, logger=False, enable_checkpointing=False)

COUNTED = ("on_fit_start", "on_sanity_check_start", "on_train_start", "on_train_epoch_start",
           "on_train_batch_start", "on_train_batch_end", "on_train_epoch_end", "on_validation_start",
           "on_validation_end", "on_train_end", "on_fit_end", "on_exception", "teardown")


def dataset(n: int = 8, seed: int = 0) -> TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, 4, generator=gen), torch.randn(n, 1, generator=gen))


def loader(n: int = 8, batch_size: int = 2, shuffle: bool = False, seed: int = 0) -> DataLoader:
    return DataLoader(dataset(n, seed), batch_size=batch_size, shuffle=shuffle)


class Stream(IterableDataset):
    """An iterable dataset without __len__: `n` batches of (x, y) pairs."""

    def __init__(self, n: int = 6):
        self.n = n

    def __iter__(self):
        gen = torch.Generator().manual_seed(0)
        for _ in range(self.n):
            yield torch.randn(4, generator=gen), torch.randn(1, generator=gen)


def tiny_class(base: type) -> type:
    """A linear regression module whose hooks can request a stop or return -1 on demand.

    stop_in: hook name that sets `trainer.should_stop = True` (every call, from `stop_from_step` on).
    minus_one_at: set of (epoch, batch_idx) where on_train_batch_start returns -1.
    """

    class Tiny(base):
        def __init__(self, stop_in: Optional[str] = None, stop_from_step: int = 0, minus_one_at=(),
                     lr: float = 0.05, with_val: bool = True):
            super().__init__()
            self.layer = nn.Linear(4, 1)
            self.stop_in, self.stop_from_step, self.minus_one_at, self.lr = stop_in, stop_from_step, set(minus_one_at), lr
            self.seen: list[tuple[int, int]] = []  # (epoch, batch_idx) of every training_step

        def forward(self, x):
            return self.layer(x)

        def _maybe_stop(self, hook: str) -> None:
            if self.stop_in == hook and self.trainer.global_step >= self.stop_from_step:
                self.trainer.should_stop = True

        def training_step(self, batch, batch_idx):
            self.seen.append((self.current_epoch, batch_idx))
            self._maybe_stop("training_step")
            x, y = batch
            return nn.functional.mse_loss(self(x), y)

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", nn.functional.mse_loss(self(x), y))

        def test_step(self, batch, batch_idx):
            x, y = batch
            self.log("test_loss", nn.functional.mse_loss(self(x), y))

        def predict_step(self, batch, batch_idx):
            return self(batch[0])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr)

        def on_fit_start(self):
            self._maybe_stop("on_fit_start")

        def on_train_start(self):
            self._maybe_stop("on_train_start")

        def on_train_batch_start(self, batch, batch_idx):
            if (self.current_epoch, batch_idx) in self.minus_one_at:
                return -1
            return None

        def on_train_batch_end(self, outputs, batch, batch_idx):
            self._maybe_stop("on_train_batch_end")

        def on_train_epoch_end(self):
            self._maybe_stop("on_train_epoch_end")

        def on_validation_end(self):
            self._maybe_stop("on_validation_end")

    return Tiny


def counter_class(base: type) -> type:
    """A callback counting the calls of the hooks in COUNTED."""

    def make(hook: str) -> Callable:
        def method(self, trainer, module, *args: Any, **kwargs: Any) -> None:
            self.counts[hook] += 1
            self.order.append(hook)
        method.__name__ = hook
        return method

    body = {hook: make(hook) for hook in COUNTED}

    def __init__(self):
        self.counts, self.order = Counter(), []
    body["__init__"] = __init__
    return type("Counting", (base,), body)


Tiny = tiny_class(st.StateModule)
Counting = counter_class(st.Callback)


def lightning():
    """lightning.pytorch, or skip the calling test."""
    return pytest.importorskip("lightning.pytorch")


def lightning_run(flags: dict, module_kwargs: dict | None = None, train=None, val=None):
    """Fit the same Tiny model under Lightning; (trainer, module, counting callback)."""
    pl = lightning()
    import logging
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    module = tiny_class(pl.LightningModule)(**(module_kwargs or {}))
    counter = counter_class(pl.Callback)()
    trainer = pl.Trainer(accelerator="cpu", devices=1, callbacks=[counter], **QUIET, **flags)
    trainer.fit(module, train if train is not None else loader(), val)
    return trainer, module, counter


def st_run(flags: dict, module_kwargs: dict | None = None, train=None, val=None, callbacks=()):
    """Fit Tiny under statetrainer; (trainer, module, counting callback)."""
    module = Tiny(**(module_kwargs or {}))
    counter = Counting()
    trainer = st.Trainer(callbacks=[counter, *callbacks], **QUIET, **flags)
    trainer.fit(module, train if train is not None else loader(), val)
    return trainer, module, counter
