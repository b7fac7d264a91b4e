"""Loggers under a real fit: what reaches metrics.csv and the event files, compared with Lightning's loggers.

The same model (same seed, same data, same flags) runs under ``lightning.pytorch`` with its
CSVLogger and TensorBoardLogger and under statetrainer with ours; the files each library writes
are read back and compared: metric names, steps and values, hparams.yaml and TensorBoard's hparams.
"""
from __future__ import annotations

import csv
import os

import pytest
import torch
import yaml
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st
from statetrainer.callbacks.lr_monitor import LearningRateMonitor

from .events import hparams_plugin, scalars


def make_module_class(base):
    class Regression(base):
        def __init__(self, lr=0.05, hidden=4):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self(x), y)
            self.log("train_loss", loss)
            self.log("abs_err", (self(x) - y).abs().mean(), on_step=True, on_epoch=True, prog_bar=True)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self(x), y))

        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
            return [optimizer], [{"scheduler": scheduler, "interval": "step"}]

    return Regression


def _data():
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(24, 3, generator=generator)
    return TensorDataset(x, x.sum(dim=1, keepdim=True))


def _fit(trainer_cls, module_cls, seed_everything, loggers, callbacks=()):
    seed_everything(11)
    model = module_cls()
    trainer = trainer_cls(max_epochs=2, logger=loggers, callbacks=list(callbacks), log_every_n_steps=2,
                          enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                          num_sanity_val_steps=0)
    trainer.fit(model, DataLoader(_data(), batch_size=4), DataLoader(_data(), batch_size=12))
    return trainer


def _csv_rows(log_dir):
    with open(os.path.join(log_dir, "metrics.csv"), newline="") as handle:
        return [{key: float(value) for key, value in row.items() if value != ""} for row in csv.DictReader(handle)]


def _assert_rows_equal(ours, theirs):
    assert [sorted(row) for row in ours] == [sorted(row) for row in theirs]
    for mine, reference in zip(ours, theirs):
        assert mine == pytest.approx(reference, rel=1e-5, abs=1e-7)


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory):
    pl = pytest.importorskip("lightning.pytorch")
    root = tmp_path_factory.mktemp("logging")
    theirs_dir, ours_dir = str(root / "lightning"), str(root / "ours")
    _fit(pl.Trainer, make_module_class(pl.LightningModule), pl.seed_everything,
         [pl.loggers.CSVLogger(theirs_dir), pl.loggers.TensorBoardLogger(theirs_dir, name="tb")],
         [pl.callbacks.LearningRateMonitor()])
    trainer = _fit(st.Trainer, make_module_class(st.StateModule), st.seed_everything,
                   [st.loggers.CSVLogger(ours_dir), st.loggers.TensorBoardLogger(ours_dir, name="tb")],
                   [LearningRateMonitor()])
    return theirs_dir, ours_dir, trainer


def test_metrics_csv_matches_lightning(both_runs):
    theirs_dir, ours_dir, _ = both_runs
    theirs = _csv_rows(os.path.join(theirs_dir, "lightning_logs", "version_0"))
    ours = _csv_rows(os.path.join(ours_dir, "lightning_logs", "version_0"))
    _assert_rows_equal(ours, theirs)
    # and what that is: 6 steps per epoch, logged at steps 1, 3, 5 (log_every_n_steps=2), epoch rows at 5 and 11
    assert [row["step"] for row in ours if "train_loss" in row] == [1, 3, 5, 7, 9, 11]
    assert [row["step"] for row in ours if "val_loss" in row] == [5, 11]
    assert [row["step"] for row in ours if "abs_err_epoch" in row] == [5, 11]
    # learning rate before batches 1, 3, 5...: StepLR halves it every 3 steps
    assert [(row["step"], row["lr-SGD"]) for row in ours if "lr-SGD" in row] == [
        (1, 0.05), (3, 0.025), (5, 0.025), (7, 0.0125), (9, 0.00625), (11, 0.00625)]


def test_event_files_match_lightning(both_runs):
    theirs_dir, ours_dir, _ = both_runs
    theirs = scalars(os.path.join(theirs_dir, "tb", "version_0"))
    ours = scalars(os.path.join(ours_dir, "tb", "version_0"))
    assert sorted(ours) == sorted(theirs) == sorted(["abs_err_epoch", "abs_err_step", "epoch", "hp_metric",
                                                     "lr-SGD", "train_loss", "val_loss"])
    for tag in theirs:
        assert [step for step, _ in ours[tag]] == [step for step, _ in theirs[tag]], tag
        assert [value for _, value in ours[tag]] == pytest.approx([value for _, value in theirs[tag]], rel=1e-5)
    assert ours["hp_metric"] == [(0, -1.0)]


def test_hparams_match_lightning(both_runs):
    theirs_dir, ours_dir, _ = both_runs
    for folder in (os.path.join("lightning_logs", "version_0"), os.path.join("tb", "version_0")):
        with open(os.path.join(theirs_dir, folder, "hparams.yaml")) as a, \
                open(os.path.join(ours_dir, folder, "hparams.yaml")) as b:
            assert yaml.safe_load(b) == yaml.safe_load(a) == {"lr": 0.05, "hidden": 4}
    theirs = hparams_plugin(os.path.join(theirs_dir, "tb", "version_0"))
    ours = hparams_plugin(os.path.join(ours_dir, "tb", "version_0"))
    assert ours == theirs


def test_trainer_and_module_expose_the_loggers(both_runs):
    _, ours_dir, trainer = both_runs
    csv_logger, tb_logger = trainer.loggers
    assert isinstance(csv_logger, st.loggers.CSVLogger) and isinstance(tb_logger, st.loggers.TensorBoardLogger)
    assert trainer.logger is csv_logger
    assert trainer.log_dir == os.path.join(ours_dir, "lightning_logs", "version_0")
    assert trainer.lightning_module.logger is csv_logger and trainer.lightning_module.loggers == [csv_logger,
                                                                                                  tb_logger]


def test_logger_true_writes_tensorboard_under_default_root_dir(tmp_path):
    module_cls = make_module_class(st.StateModule)
    st.seed_everything(0)
    trainer = st.Trainer(max_epochs=1, default_root_dir=str(tmp_path), enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=3,
                         num_sanity_val_steps=0)
    trainer.fit(module_cls(), DataLoader(_data(), batch_size=4), DataLoader(_data(), batch_size=12))
    assert isinstance(trainer.logger, st.loggers.TensorBoardLogger)
    log_dir = os.path.join(str(tmp_path), "lightning_logs", "version_0")
    assert trainer.log_dir == log_dir
    found = scalars(log_dir)
    assert [step for step, _ in found["train_loss"]] == [2, 5]  # steps 3 and 6 are global steps 2 and 5
    assert [step for step, _ in found["val_loss"]] == [5]
    assert sorted(os.listdir(log_dir))[-1] == "hparams.yaml"


def test_logger_false_writes_nothing(tmp_path):
    module_cls = make_module_class(st.StateModule)
    trainer = st.Trainer(max_epochs=1, default_root_dir=str(tmp_path), logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_train_batches=2,
                         limit_val_batches=1, num_sanity_val_steps=0)
    trainer.fit(module_cls(), DataLoader(_data(), batch_size=4), DataLoader(_data(), batch_size=12))
    assert trainer.loggers == [] and trainer.logger is None
    assert trainer.log_dir == str(tmp_path)
    assert os.listdir(tmp_path) == []


def test_log_graph_traces_the_module_when_the_run_starts(tmp_path):
    from .events import graphs

    model = make_module_class(st.StateModule)()
    model.example_input_array = torch.zeros(2, 3)
    logger = st.loggers.TensorBoardLogger(tmp_path, log_graph=True)
    trainer = st.Trainer(max_epochs=1, logger=logger, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_train_batches=1, limit_val_batches=1)
    trainer.fit(model, DataLoader(_data(), batch_size=4), DataLoader(_data(), batch_size=4))
    (graph,) = graphs(logger.log_dir)
    assert [(node.name.rsplit("_", 1)[0] if "aten" in node.op else node.name, node.op) for node in graph.node] == [
        ("input/x", "IO Node"),
        ("Regression/net/0/bias", "Parameter"), ("Regression/net/0/weight", "Parameter"),
        ("Regression/net/0/aten::linear", "aten::linear"),
        ("Regression/net/1/aten::tanh", "aten::tanh"),
        ("Regression/net/2/bias", "Parameter"), ("Regression/net/2/weight", "Parameter"),
        ("Regression/net/2/aten::linear", "aten::linear"),
        ("output/output.0", "IO Node"),
    ]
