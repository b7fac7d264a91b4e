"""CSVLogger without a Trainer: metrics.csv and hparams.yaml read back."""
from __future__ import annotations

import csv
import os

import pytest
import torch
import yaml

from statetrainer.loggers import CSVLogger


def _rows(logger):
    with open(os.path.join(logger.log_dir, "metrics.csv"), newline="") as handle:
        return list(csv.DictReader(handle))


def test_metrics_csv_has_a_column_per_metric_and_the_step(tmp_path):
    logger = CSVLogger(tmp_path)
    logger.log_metrics({"train_loss": 0.5, "epoch": 0}, step=0)
    logger.log_metrics({"train_loss": torch.tensor(0.25), "epoch": 0}, step=1)
    logger.log_metrics({"val_loss": 0.75, "epoch": 0}, step=1)
    logger.finalize("success")
    text = open(os.path.join(logger.log_dir, "metrics.csv")).read()
    assert text.splitlines() == [
        "epoch,step,train_loss,val_loss",
        "0,0,0.5,",
        "0,1,0.25,",
        "0,1,,0.75",
    ]
    assert logger.log_dir == os.path.join(tmp_path, "lightning_logs", "version_0")


def test_a_new_metric_after_a_flush_rewrites_the_header(tmp_path):
    logger = CSVLogger(tmp_path, name="exp", version=3)
    logger.log_metrics({"a": 1.0}, step=0)
    logger.save()
    logger.log_metrics({"b": 2.0}, step=1)
    logger.save()
    logger.log_metrics({"a": 3.0}, step=2)
    logger.finalize("success")
    assert _rows(logger) == [
        {"a": "1.0", "b": "", "step": "0"},
        {"a": "", "b": "2.0", "step": "1"},
        {"a": "3.0", "b": "", "step": "2"},
    ]
    assert logger.log_dir == os.path.join(tmp_path, "exp", "version_3")


def test_rows_are_flushed_every_n_steps(tmp_path):
    logger = CSVLogger(tmp_path, flush_logs_every_n_steps=2)
    logger.log_metrics({"a": 1.0}, step=0)
    assert not os.path.exists(os.path.join(logger.log_dir, "metrics.csv"))
    logger.log_metrics({"a": 2.0}, step=1)  # (1 + 1) % 2 == 0: written now
    assert [row["a"] for row in _rows(logger)] == ["1.0", "2.0"]
    logger.log_metrics({"a": 3.0}, step=2)
    assert len(_rows(logger)) == 2
    logger.finalize("success")
    assert len(_rows(logger)) == 3


def test_step_defaults_to_the_row_count_and_prefix_is_joined_with_a_dash(tmp_path):
    logger = CSVLogger(tmp_path, prefix="fold1")
    logger.log_metrics({"a": 1.0})
    logger.log_metrics({"a": 2.0})
    logger.finalize("success")
    assert _rows(logger) == [{"fold1-a": "1.0", "step": "0"}, {"fold1-a": "2.0", "step": "1"}]


def test_hparams_yaml_is_plain_yaml(tmp_path):
    logger = CSVLogger(tmp_path)
    logger.log_hyperparams({"lr": 0.01, "sizes": (2, 3), "device": torch.device("cpu"), "t": torch.tensor(1.5)})
    logger.log_hyperparams({"batch_size": 8})
    text = open(os.path.join(logger.log_dir, "hparams.yaml")).read()
    assert yaml.safe_load(text) == {"lr": 0.01, "sizes": [2, 3], "device": "cpu", "t": 1.5, "batch_size": 8}
    assert "!!python" not in text


def test_versions_count_up(tmp_path):
    CSVLogger(tmp_path).log_metrics({"a": 1.0}, step=0)
    assert CSVLogger(tmp_path).version == 1
    assert CSVLogger(tmp_path, name=None).log_dir == os.path.join(tmp_path, "version_0")
    assert CSVLogger(tmp_path, version="best").log_dir == os.path.join(tmp_path, "lightning_logs", "best")


def test_reusing_a_version_folder_replaces_its_metrics_csv_with_a_warning(tmp_path):
    first = CSVLogger(tmp_path, version=0)
    first.log_metrics({"a": 1.0}, step=0)
    first.finalize("success")
    second = CSVLogger(tmp_path, version=0)
    with pytest.warns(UserWarning, match="found .*metrics.csv from an earlier run; it will be replaced"):
        second.log_metrics({"b": 2.0}, step=0)
    second.finalize("success")
    assert _rows(second) == [{"b": "2.0", "step": "0"}]


def test_other_ranks_write_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "2")
    logger = CSVLogger(tmp_path)
    logger.log_hyperparams({"lr": 1})
    logger.log_metrics({"a": 1.0}, step=0)
    logger.finalize("success")
    assert os.listdir(tmp_path) == []


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r"`flush_logs_every_n_steps` got 0; accepted: an int >= 1\."):
        CSVLogger("x", flush_logs_every_n_steps=0)
    with pytest.raises(ValueError, match=r"`version` got \[1\]; accepted: None, an int or a str\."):
        CSVLogger("x", version=[1])


def test_experiment_rows_take_an_optional_step(tmp_path):
    logger = CSVLogger(tmp_path)
    logger.experiment.log_metrics({"a": 1.0})
    logger.experiment.log_metrics({"a": 2.0}, step=7)
    logger.experiment.save()
    assert _rows(logger) == [{"a": "1.0", "step": "0"}, {"a": "2.0", "step": "7"}]
