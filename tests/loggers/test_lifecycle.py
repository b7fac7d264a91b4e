"""The trainer-facing logger functions: the logger flag, log_dir, start and finish (no Trainer needed)."""
from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import torch

from statetrainer.errors import MisconfigurationError
from statetrainer.loggers import CSVLogger, DummyLogger, Logger, TensorBoardLogger, lifecycle


class Recording(Logger):
    def __init__(self, calls, version=0, save_dir=None):
        self.calls = calls
        self._version = version
        self._save_dir = save_dir

    name = property(lambda self: "recording")
    version = property(lambda self: self._version)
    save_dir = property(lambda self: self._save_dir)

    def log_metrics(self, metrics, step=None):
        self.calls.append(("log_metrics", dict(metrics), step))

    def log_hyperparams(self, params, *args, **kwargs):
        self.calls.append(("log_hyperparams", dict(params)))

    def log_graph(self, model, input_array=None):
        self.calls.append(("log_graph", type(model).__name__))

    def save(self):
        self.calls.append(("save",))

    def finalize(self, status):
        self.calls.append(("finalize", status))


def _module(hparams=None, log=True):
    module = torch.nn.Linear(1, 1)
    module._log_hyperparams = log and hparams is not None
    module.hparams_initial = hparams or {}
    return module


def test_logger_true_is_tensorboard_under_default_root_dir(tmp_path):
    (logger,) = lifecycle.resolve(True, tmp_path)
    assert isinstance(logger, TensorBoardLogger)
    assert logger.log_dir == os.path.join(tmp_path, "lightning_logs", "version_0")
    assert lifecycle.resolve(False, tmp_path) == [] and lifecycle.resolve(None, tmp_path) == []
    csv_logger, tb_logger = CSVLogger(tmp_path), TensorBoardLogger(tmp_path)
    assert lifecycle.resolve(csv_logger, tmp_path) == [csv_logger]
    assert lifecycle.resolve([csv_logger, tb_logger], tmp_path) == [csv_logger, tb_logger]
    assert lifecycle.resolve((tb_logger,), tmp_path) == [tb_logger]


@pytest.mark.parametrize("bad", ["tensorboard", 1, [True]])
def test_other_logger_values_are_refused(bad, tmp_path):
    with pytest.raises(MisconfigurationError, match=r"^`logger` got .*; accepted: True, False, None, a Logger \(or "
                                                    r"an object with log_metrics, log_hyperparams, save and "
                                                    r"finalize\) or a list of them\.$"):
        lifecycle.resolve(bad, tmp_path)


def test_a_logger_like_object_is_accepted(tmp_path):
    """As Lightning: any object that answers like a logger (a mock, a third-party logger) is used as one."""
    from unittest import mock
    stand_in = mock.MagicMock()
    assert lifecycle.resolve(stand_in, tmp_path) == [stand_in]


def test_log_dir_follows_lightning(tmp_path):
    assert lifecycle.log_dir([], str(tmp_path)) == str(tmp_path)
    tb_logger = TensorBoardLogger(tmp_path, name="x", version=2)
    assert lifecycle.log_dir([tb_logger, CSVLogger("elsewhere")], str(tmp_path)) == tb_logger.log_dir
    assert lifecycle.log_dir([CSVLogger(tmp_path, version="v")], "") == os.path.join(tmp_path, "lightning_logs", "v")
    assert lifecycle.log_dir([Recording([], save_dir="/data/runs")], "root") == "/data/runs"
    assert lifecycle.log_dir([Recording([])], "root") == "root"


def test_version_label_joins_distinct_versions():
    assert lifecycle.version_label([]) is None
    assert lifecycle.version_label([Recording([], version=3)]) == 3
    assert lifecycle.version_label([Recording([], 3), Recording([], "a"), Recording([], 3)]) == "3_a"


def test_start_logs_hparams_graph_then_saves_on_every_logger_in_order():
    calls = []
    loggers = [Recording(calls), Recording(calls)]
    lifecycle.start(loggers, _module({"lr": 0.1}))
    assert calls == [("log_hyperparams", {"lr": 0.1}), ("log_graph", "Linear"), ("save",)] * 2


def test_start_without_saved_hparams_only_logs_the_graph_and_saves():
    calls = []
    lifecycle.start([Recording(calls)], _module({"lr": 0.1}, log=False))
    assert calls == [("log_graph", "Linear"), ("save",)]
    lifecycle.start([], _module({"lr": 0.1}))  # no loggers: nothing to do


def test_module_and_datamodule_hparams_are_merged_and_clashes_refused():
    datamodule = SimpleNamespace(_log_hyperparams=True, hparams_initial={"batch_size": 4, "_class_path": "x.Y"})
    assert lifecycle.hparams_to_log(_module({"lr": 0.1}), datamodule) == {"lr": 0.1, "batch_size": 4}
    assert lifecycle.hparams_to_log(_module(None), datamodule) == {"batch_size": 4}
    assert lifecycle.hparams_to_log(_module(None), None) is None
    clash = SimpleNamespace(_log_hyperparams=True, hparams_initial={"lr": 0.2})
    with pytest.raises(RuntimeError, match=r"hyperparameters \['lr'\] were saved by both the module and "
                                           r"the datamodule with different values"):
        lifecycle.hparams_to_log(_module({"lr": 0.1}), clash)
    other_class_path = SimpleNamespace(_log_hyperparams=True, hparams_initial={"_class_path": "a.B"})
    assert lifecycle.hparams_to_log(_module({"_class_path": "x.Y"}), other_class_path) == {}


def test_hparams_with_keys_that_are_not_text_merge_and_clash_like_any_other():
    import numpy as np
    data = SimpleNamespace(_log_hyperparams=True, hparams_initial={1: "a", (2, 3): np.zeros(2)})
    merged = lifecycle.hparams_to_log(_module({"lr": 0.1, 1: "a"}), data)
    assert list(merged) == ["lr", 1, (2, 3)]
    with pytest.raises(RuntimeError, match=r"hyperparameters \[1, \(2, 3\)\] were saved by both"):
        lifecycle.hparams_to_log(_module({1: "b", (2, 3): np.ones(2)}), data)


def test_finish_finalizes_every_logger_with_the_status():
    calls = []
    lifecycle.finish([Recording(calls), Recording(calls)], "interrupted")
    assert calls == [("finalize", "interrupted")] * 2


def test_start_and_finish_write_real_files(tmp_path):
    module = _module({"hidden": 8})
    tb_logger, csv_logger = TensorBoardLogger(tmp_path), CSVLogger(tmp_path, name="csv")
    lifecycle.start([tb_logger, csv_logger], module)
    csv_logger.log_metrics({"loss": 1.0}, step=0)
    lifecycle.finish([tb_logger, csv_logger], "success")
    assert open(os.path.join(tb_logger.log_dir, "hparams.yaml")).read() == "hidden: 8\n"
    assert open(os.path.join(csv_logger.log_dir, "hparams.yaml")).read() == "hidden: 8\n"
    assert open(os.path.join(csv_logger.log_dir, "metrics.csv")).read().splitlines() == ["loss,step", "1.0,0"]


def test_base_logger_defaults_and_dummy_logger():
    calls = []
    logger = Recording(calls)
    assert (logger.root_dir, logger.log_dir, logger.group_separator) == (None, None, "/")
    Logger.finalize(logger, "success")  # the base finalize saves
    assert calls == [("save",)]
    dummy = DummyLogger()
    dummy.log_metrics({"a": 1.0}, step=1)
    assert dummy.anything(1, 2) is None and dummy[3] is dummy and dummy.experiment.add_scalar("a", 1) is None
    assert (dummy.name, dummy.version) == ("", "")
