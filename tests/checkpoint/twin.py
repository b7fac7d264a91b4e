"""The same scripted-metric model under Lightning and statetrainer, for differential tests."""
from __future__ import annotations

import os
import warnings
from typing import Any, Sequence

import torch
from torch import nn

from .helpers import QUIET, Scripted, loaders

import statetrainer as st


def run_ours(root, values: Sequence[float], callbacks: Sequence[Any], name: str = "val_loss", **flags: Any):
    st.seed_everything(3)
    trainer = st.Trainer(default_root_dir=str(root), callbacks=list(callbacks), **{**QUIET, **flags})
    train, val = loaders(shuffle=False)
    trainer.fit(Scripted(values, name), train, val)
    return trainer


def run_lightning(root, values: Sequence[float], callbacks: Sequence[Any], name: str = "val_loss", **flags: Any):
    import lightning.pytorch as pl

    class LScripted(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.runs = 0
            self.layer = nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):
            return self.layer(batch[0]).sum()

        def validation_step(self, batch, batch_idx):
            self.log(name, torch.tensor(values[min(self.runs, len(values) - 1)]))

        def on_validation_epoch_end(self):
            if not self.trainer.sanity_checking:
                self.runs += 1

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    pl.seed_everything(3, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = pl.Trainer(default_root_dir=str(root), callbacks=list(callbacks), accelerator="cpu", devices=1,
                             **{**QUIET, **flags})
        train, val = loaders(shuffle=False)
        trainer.fit(LScripted(), train, val)
    return trainer


def files(folder) -> list[str]:
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def view(callback) -> dict[str, Any]:
    """A ModelCheckpoint's outcome with folder-independent names and plain numbers."""
    def name(path):
        return os.path.basename(path) if path else path

    def num(value):
        return None if value is None else round(float(value), 6)
    return {"best_k_models": {name(p): num(v) for p, v in callback.best_k_models.items()},
            "best_model_path": name(callback.best_model_path), "best_model_score": num(callback.best_model_score),
            "last_model_path": name(callback.last_model_path), "kth_best_model_path": name(callback.kth_best_model_path),
            "kth_value": num(callback.kth_value)}
