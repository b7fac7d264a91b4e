"""The same finders under Lightning 2.x and statetrainer: same lrs tried, same losses, same suggestion;
same batch sizes tried after the first trial (Lightning runs its first trial at the module's original
size, see docs/tuner.md)."""
from __future__ import annotations

import warnings

import pytest
import torch

import statetrainer as st
from tests.tuner.helpers import QUIET, Regression, regression_class, trainer

pl = pytest.importorskip("lightning.pytorch")
from lightning.pytorch.tuner import Tuner as LightningTuner  # noqa: E402

LightningRegression = regression_class(pl.LightningModule)


def lightning_trainer(tmp_path, **flags):
    warnings.filterwarnings("ignore")
    return pl.Trainer(**{**QUIET, "max_epochs": 3, "accelerator": "cpu", "devices": 1,
                         "default_root_dir": tmp_path, **flags})


@pytest.mark.parametrize("mode, threshold", [("exponential", None), ("linear", None), ("exponential", 4.0)])
def test_lr_finder_matches_lightning(tmp_path, mode, threshold):
    settings = dict(min_lr=1e-4, max_lr=3.0, num_training=40, mode=mode, early_stop_threshold=threshold)
    torch.manual_seed(0)
    theirs_model = LightningRegression(n=512, batch_size=32)
    theirs = LightningTuner(lightning_trainer(tmp_path)).lr_find(theirs_model, **settings)
    torch.manual_seed(0)
    ours_model = Regression(n=512, batch_size=32)
    ours_trainer = trainer()
    ours = st.Tuner(ours_trainer).lr_find(ours_model, **settings)
    assert ours.results["lr"] == theirs.results["lr"]
    assert ours_trainer.train_dataloader.batch_size == 32  # the range test's loader stays readable, as in Lightning
    assert ours.results["loss"] == pytest.approx(theirs.results["loss"], rel=1e-6)
    assert ours.suggestion() == theirs.suggestion() == ours_model.lr == theirs_model.lr


@pytest.mark.parametrize("mode, limit, n, settings", [
    ("power", 16, 256, {}),
    ("binsearch", 24, 256, {}),
    ("power", 100, 40, {}),   # a batch of 64 holds the whole dataset (40): the growth stops there
])
def test_batch_size_finder_matches_lightning(tmp_path, monkeypatch, mode, limit, n, settings):
    # Lightning collects garbage before every trial (~0.5 s each here); irrelevant to the sizes tried
    monkeypatch.setattr("lightning.pytorch.tuner.batch_size_scaling.garbage_collection_cuda", lambda: None)
    theirs_model, theirs_trainer = LightningRegression(limit=limit, n=n), lightning_trainer(tmp_path)
    theirs = LightningTuner(theirs_trainer).scale_batch_size(theirs_model, mode=mode, **settings)
    ours_model, ours_trainer = Regression(limit=limit, n=n), trainer()
    ours = st.Tuner(ours_trainer).scale_batch_size(ours_model, mode=mode, **settings)
    assert ours == theirs == ours_model.batch_size == theirs_model.batch_size
    # afterwards the trainer shows loaders built with the size found
    for name in ("train_dataloader", "val_dataloaders"):
        assert getattr(ours_trainer, name).batch_size == getattr(theirs_trainer, name).batch_size == ours
    assert theirs_model.sizes[:3] == [8, 8, 8] and ours_model.sizes[:3] == [2, 2, 2]
    assert ours_model.sizes[3:] == theirs_model.sizes[3:]


def test_lr_finder_range_downwards_matches_lightning(tmp_path):
    settings = dict(min_lr=1.0, max_lr=1e-3, num_training=6, update_attr=False)
    torch.manual_seed(0)
    theirs = LightningTuner(lightning_trainer(tmp_path)).lr_find(LightningRegression(n=64), **settings)
    torch.manual_seed(0)
    ours = st.Tuner(trainer()).lr_find(Regression(n=64), **settings)
    assert ours.results["lr"] == theirs.results["lr"] and ours.results["lr"][0] == 1.0
    assert all(1e-3 <= lr <= 1.0 for lr in ours.results["lr"])


@pytest.mark.parametrize("mode", ["power", "binsearch"])
def test_no_trials_matches_lightning(tmp_path, monkeypatch, mode):
    monkeypatch.setattr("lightning.pytorch.tuner.batch_size_scaling.garbage_collection_cuda", lambda: None)
    theirs = LightningTuner(lightning_trainer(tmp_path)).scale_batch_size(LightningRegression(), mode=mode,
                                                                           max_trials=0)
    ours_model = Regression()
    ours = st.Tuner(trainer()).scale_batch_size(ours_model, mode=mode, max_trials=0)
    assert ours == theirs == ours_model.batch_size == {"power": 2, "binsearch": 1}[mode]
