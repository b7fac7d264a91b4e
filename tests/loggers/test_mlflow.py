"""MLFlowLogger on the real mlflow, a SQLite store in tmp_path, read back with MLflow's own client.

MLflow needs several seconds to create the tables of a new SQLite store, so one store is made per
session and each test starts from a copy of it (the file the default `save_dir` store would use).
"""
from __future__ import annotations

import csv
import os
import shutil
import sys

import pytest
import torch
import yaml
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st
from statetrainer.callbacks import ModelCheckpoint
from statetrainer.loggers import CSVLogger, MLFlowLogger

mlflow = pytest.importorskip("mlflow")
pytestmark = pytest.mark.slow  # the session's first test creates an MLflow store (~10-20 s)


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory):
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()  # creates the tables
    return path


@pytest.fixture
def save_dir(tmp_path, empty_store):
    folder = tmp_path / "mlruns"
    folder.mkdir()
    shutil.copy(empty_store, folder / "mlflow.db")
    return folder


def _client(logger):
    from mlflow.tracking import MlflowClient
    return MlflowClient(logger._tracking_uri)


class Model(st.StateModule):
    def __init__(self, hidden: int = 4, lr: float = 0.1, optim: dict | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))

    def training_step(self, batch, batch_idx):
        loss = (self.net(batch[0]) - batch[1]).pow(2).mean()
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", (self.net(batch[0]) - batch[1]).pow(2).mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _loader():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(24, 2, generator=generator)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=4)


def _fit(loggers, root, ckpt=None, **flags):
    options = dict(max_epochs=2, log_every_n_steps=2, enable_model_summary=False, enable_progress_bar=False,
                   default_root_dir=root)
    options.update(flags)
    trainer = st.Trainer(logger=loggers, **options)
    trainer.fit(Model(optim={"name": "sgd", "momentum": 0.0}), _loader(), _loader(), ckpt_path=ckpt)
    return trainer


def _csv_histories(logger):
    with open(os.path.join(logger.log_dir, "metrics.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    keys = [key for key in rows[0] if key != "step"]
    return {key: [(int(row["step"]), float(row[key])) for row in rows if row[key] != ""] for key in keys}


def test_metric_histories_params_tags_and_name_read_back_with_mlflows_client(tmp_path, save_dir):
    csv_logger = CSVLogger(tmp_path)
    logger = MLFlowLogger(experiment_name="demo", run_name="first", tags={"team": "states"}, save_dir=save_dir)
    trainer = _fit([csv_logger, logger], tmp_path)
    client = _client(logger)
    run = client.get_run(logger.run_id)
    expected = _csv_histories(csv_logger)
    assert set(expected) == {"epoch", "train_loss", "val_loss"} and len(expected["train_loss"]) == 6
    assert set(run.data.metrics) == set(expected)
    for key, history in expected.items():
        assert [(m.step, m.value) for m in client.get_metric_history(logger.run_id, key)] == history, key
    assert run.data.params == {"hidden": "4", "lr": "0.1", "optim/name": "sgd", "optim/momentum": "0.0"}
    assert run.data.tags["team"] == "states" and run.data.tags["mlflow.runName"] == "first"
    assert run.info.run_name == "first" and run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "demo"
    assert logger._tracking_uri == f"sqlite:///{save_dir}/mlflow.db" and logger.save_dir == str(save_dir)
    assert (logger.name, logger.version) == (run.info.experiment_id, run.info.run_id)
    assert trainer.progress_bar_callback is None and trainer.log_dir == csv_logger.log_dir


def test_log_model_uploads_the_checkpoint_files_at_the_end(tmp_path, save_dir):
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ck", monitor="val_loss", save_top_k=2, save_last=True)
    logger = MLFlowLogger(save_dir=save_dir, log_model=True)
    _fit(logger, tmp_path, max_epochs=3, callbacks=[checkpoint])
    client = _client(logger)
    folders = sorted(item.path for item in client.list_artifacts(logger.run_id))
    on_disk = sorted(name[:-len(".ckpt")] for name in os.listdir(tmp_path / "ck"))
    assert folders == on_disk and len(on_disk) == 3  # the two best and last
    best = os.path.basename(checkpoint.best_model_path)[:-len(".ckpt")]
    local = client.download_artifacts(logger.run_id, best, str(tmp_path / "down"))
    assert sorted(os.listdir(local)) == [f"{best}.ckpt", "metadata.yaml"]
    metadata = yaml.safe_load(open(os.path.join(local, "metadata.yaml")))
    assert metadata["aliases"] == ["latest", "best"] and metadata["checkpoint"]["monitor"] == "val_loss"
    assert metadata["score"] == pytest.approx(float(checkpoint.best_model_score))
    with open(os.path.join(local, f"{best}.ckpt"), "rb") as copy, open(checkpoint.best_model_path, "rb") as saved:
        assert copy.read() == saved.read()


def test_log_model_all_uploads_every_file_as_it_is_saved(tmp_path, save_dir):
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ck", monitor="val_loss", save_top_k=1, every_n_epochs=1)
    logger = MLFlowLogger(save_dir=save_dir, log_model="all")
    _fit(logger, tmp_path, max_epochs=3, callbacks=[checkpoint])
    folders = {item.path for item in _client(logger).list_artifacts(logger.run_id)}
    assert folders == {f"epoch={e}-step={6 * (e + 1)}" for e in range(3)}  # including files top-k removed later
    assert len(os.listdir(tmp_path / "ck")) == 1
    no_model = MLFlowLogger(save_dir=save_dir)
    _fit(no_model, tmp_path, max_epochs=1, callbacks=[ModelCheckpoint(dirpath=tmp_path / "ck2")])
    assert _client(no_model).list_artifacts(no_model.run_id) == []


def test_resuming_with_run_id_continues_the_same_run(tmp_path, save_dir):
    first = MLFlowLogger(experiment_name="resume", save_dir=save_dir)
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ck", save_last=True)
    _fit(first, tmp_path, max_epochs=1, callbacks=[checkpoint])
    again = MLFlowLogger(run_id=first.run_id, save_dir=save_dir)
    _fit(again, tmp_path, max_epochs=2, callbacks=[ModelCheckpoint(dirpath=tmp_path / "ck")],
         ckpt=checkpoint.last_model_path)
    client = _client(again)
    assert again.run_id == first.run_id and again.experiment_id == first.experiment_id
    assert len(client.search_runs([first.experiment_id])) == 1
    steps = [m.step for m in client.get_metric_history(first.run_id, "train_loss")]
    assert steps == [1, 3, 5, 7, 9, 11]  # every 2nd step: the first fit's, then the resumed fit's
    assert client.get_run(first.run_id).info.status == "FINISHED"


def test_failed_runs_are_marked_failed(tmp_path, save_dir):
    class Broken(Model):
        def training_step(self, batch, batch_idx):
            if self.global_step == 3:
                raise RuntimeError("broken")
            return super().training_step(batch, batch_idx)

    logger = MLFlowLogger(save_dir=save_dir)
    trainer = st.Trainer(logger=logger, max_epochs=1, log_every_n_steps=1, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False)
    with pytest.raises(RuntimeError, match="broken"):
        trainer.fit(Broken(), _loader())
    run = _client(logger).get_run(logger.run_id)
    assert run.info.status == "FAILED" and [m.step for m in _client(logger).get_metric_history(
        logger.run_id, "train_loss")] == [0, 1, 2]


def test_metric_names_prefix_text_values_and_the_default_uri(tmp_path, save_dir, monkeypatch):
    logger = MLFlowLogger(save_dir=save_dir, prefix="p")
    with pytest.warns(RuntimeWarning, match=r"'p-a\(b\)' has characters MLflow refuses; logged as 'p-ab'"):
        logger.log_metrics({"a(b)": torch.tensor(1.5)}, step=3)
    with pytest.warns(UserWarning, match="metric p-note='text' is text"):
        logger.log_metrics({"note": "text", "c": 2}, step=None)
    logger.finalize("interrupted")
    client = _client(logger)
    assert [(m.key, m.step, m.value) for m in client.get_metric_history(logger.run_id, "p-ab")] == [("p-ab", 3, 1.5)]
    assert [(m.step, m.value) for m in client.get_metric_history(logger.run_id, "p-c")] == [(0, 2.0)]
    assert client.get_run(logger.run_id).info.status == "KILLED"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{save_dir}/mlflow.db")
    assert MLFlowLogger(save_dir=tmp_path / "elsewhere")._tracking_uri == f"sqlite:///{save_dir}/mlflow.db"
    with pytest.raises(st.errors.MisconfigurationError, match=r"`log_model` got 'best'; accepted: True, False"):
        MLFlowLogger(log_model="best")


def test_without_mlflow_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install statetrainer\[mlflow\]"):
        MLFlowLogger()
