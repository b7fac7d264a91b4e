"""What trainer.save_checkpoint writes, the hook order around it, and what restoring puts back."""
from __future__ import annotations

import os

import pytest
import torch
from torch.utils.data import DataLoader

import statetrainer as st
from statetrainer.checkpoint import io
from statetrainer.errors import CheckpointError

from .helpers import QUIET, Net, dataset, fit, loaders


class Counter(st.Callback):
    """A stateful callback that records the checkpoint hooks it sees into a shared log."""

    def __init__(self, log: list, tag: str = "cb"):
        self.log, self.tag, self.batches = log, tag, 0

    @property
    def state_key(self):
        return self._generate_state_key(tag=self.tag)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.batches += 1

    def state_dict(self):
        self.log.append(f"{self.tag}.state_dict")
        return {"batches": self.batches}

    def load_state_dict(self, state_dict):
        self.log.append(f"{self.tag}.load_state_dict")
        self.batches = state_dict["batches"]

    def on_save_checkpoint(self, trainer, module, checkpoint):
        self.log.append(f"{self.tag}.on_save_checkpoint")
        checkpoint["from_callback"] = self.tag

    def on_load_checkpoint(self, trainer, module, checkpoint):
        self.log.append(f"{self.tag}.on_load_checkpoint")


class Recording(Net):
    def __init__(self, log=None, hidden: int = 8, lr: float = 0.01):
        super().__init__(hidden=hidden, lr=lr)
        self.save_hyperparameters(ignore=["log"])
        self.log_ = log if log is not None else []

    def on_save_checkpoint(self, checkpoint):
        self.log_.append("module.on_save_checkpoint")
        checkpoint["extra"] = torch.tensor([1.0, 2.0])

    def on_load_checkpoint(self, checkpoint):
        self.log_.append(f"module.on_load_checkpoint(extra={checkpoint['extra'].tolist()})")


class Data(st.DataModule):
    def __init__(self, batch_size: int = 4):
        super().__init__()
        self.save_hyperparameters()
        self.served = 0

    def train_dataloader(self):
        self.served += 1
        return DataLoader(dataset(), batch_size=self.hparams.batch_size)

    def state_dict(self):
        return {"served": self.served}

    def load_state_dict(self, state_dict):
        self.served = state_dict["served"] + 100


def _trainer(root, callbacks=(), **flags) -> st.Trainer:
    return st.Trainer(default_root_dir=str(root), callbacks=list(callbacks), **{**QUIET, "max_epochs": 1, **flags})


def test_full_checkpoint_keys_and_values(tmp_path):
    log: list = []
    trainer = _trainer(tmp_path, [Counter(log)], enable_checkpointing=False)
    trainer.fit(Recording(log), datamodule=Data(batch_size=5))
    trainer.save_checkpoint(tmp_path / "full.ckpt")
    checkpoint = io.load(tmp_path / "full.ckpt")
    assert set(checkpoint) == {"epoch", "global_step", "statetrainer_version", "state_dict", "loops", "callbacks",
                               "optimizer_states", "lr_schedulers", "hyper_parameters", "hparams_name",
                               "datamodule_hyper_parameters", "datamodule_hparams_name", "Data", "extra",
                               "from_callback"}
    assert (checkpoint["epoch"], checkpoint["global_step"]) == (1, 8)
    assert checkpoint["hyper_parameters"] == {"hidden": 8, "lr": 0.01} and checkpoint["hparams_name"] == "kwargs"
    assert checkpoint["datamodule_hyper_parameters"] == {"batch_size": 5} and checkpoint["Data"] == {"served": 1}
    assert checkpoint["callbacks"] == {"Counter{'tag': 'cb'}": {"batches": 8}}
    assert len(checkpoint["optimizer_states"]) == 1 and checkpoint["lr_schedulers"][0]["step_size"] == 3
    assert log[-3:] == ["cb.state_dict", "cb.on_save_checkpoint", "module.on_save_checkpoint"]


def test_weights_only_checkpoint_leaves_out_the_training_state(tmp_path):
    log: list = []
    trainer = _trainer(tmp_path, [Counter(log)], enable_checkpointing=False)
    trainer.fit(Recording(log), loaders()[0])
    log.clear()
    trainer.save_checkpoint(tmp_path / "w.ckpt", weights_only=True)
    checkpoint = io.load(tmp_path / "w.ckpt")
    assert not {"callbacks", "optimizer_states", "lr_schedulers", "from_callback"} & set(checkpoint)
    assert log == ["module.on_save_checkpoint"]


def test_restore_order_is_lightnings(tmp_path):
    log: list = []
    trainer = _trainer(tmp_path, [Counter(log)], enable_checkpointing=False)
    trainer.fit(Recording(log), datamodule=Data())
    trainer.save_checkpoint(tmp_path / "a.ckpt")
    log.clear()
    data = Data()
    module = Recording(log)
    trainer = _trainer(tmp_path, [Counter(log)], max_epochs=2, enable_checkpointing=False)
    trainer.fit(module, datamodule=data, ckpt_path=str(tmp_path / "a.ckpt"))
    assert log[:3] == ["module.on_load_checkpoint(extra=[1.0, 2.0])", "cb.on_load_checkpoint", "cb.load_state_dict"]
    assert data.served == 101 + 1  # restored (+100 marks load_state_dict), then one loader for epoch 1
    assert trainer.callbacks[0].batches == 20


def test_datamodule_load_from_checkpoint(tmp_path):
    trainer = _trainer(tmp_path, enable_checkpointing=False)
    trainer.fit(Net(), datamodule=Data(batch_size=8))
    trainer.save_checkpoint(tmp_path / "d.ckpt")
    data = Data.load_from_checkpoint(tmp_path / "d.ckpt")
    assert data.hparams.batch_size == 8 and data.served == 101


def test_hparams_yaml_beside_the_logs_and_as_hparams_file(tmp_path):
    _, trainer = fit(tmp_path, model=Net(hidden=6), max_epochs=1, logger=st.loggers.CSVLogger(tmp_path, name="x"))
    log_dir = trainer.logger.log_dir
    assert sorted(os.listdir(log_dir)) == ["checkpoints", "hparams.yaml", "metrics.csv"]
    assert open(os.path.join(log_dir, "hparams.yaml")).read() == "hidden: 6\nlr: 0.01\n"
    path = trainer.checkpoint_callback.best_model_path
    assert os.path.dirname(path) == os.path.join(log_dir, "checkpoints")
    loaded = Net.load_from_checkpoint(path, hparams_file=os.path.join(log_dir, "hparams.yaml"))
    assert loaded.inner.out_features == 6


def test_two_callbacks_with_the_same_state_key_are_refused(tmp_path):
    trainer = _trainer(tmp_path, [Counter([]), Counter([])], enable_checkpointing=False)
    trainer.fit(Net(), loaders()[0])
    with pytest.raises(CheckpointError, match=r"two callbacks have the state_key \"Counter\{'tag': 'cb'\}\""):
        trainer.save_checkpoint(tmp_path / "x.ckpt")


class Stamped(st.Callback):
    """Keeps what users keep in callback states: a datetime, a Path, a Counter, and an object."""

    def __init__(self):
        self.state: dict = {}

    def on_train_start(self, trainer, module):
        import collections
        import datetime
        import pathlib
        self.state = {"started": datetime.datetime(2025, 3, 1, 12, 30), "out": pathlib.Path("/runs/a"),
                      "seen": collections.Counter("aab"), "lock": __import__("threading").Lock()}

    def state_dict(self):
        return dict(self.state)

    def load_state_dict(self, state_dict):
        self.state = state_dict


def test_non_plain_callback_state_is_recorded_and_restored(tmp_path):
    import collections
    import datetime
    import pathlib

    from statetrainer.checkpoint.placeholder import Placeholder
    trainer = _trainer(tmp_path, [Stamped()], enable_checkpointing=False)
    trainer.fit(Net(), loaders()[0])
    with pytest.warns(UserWarning, match=r"records checkpoint\['callbacks'\]\['Stamped'\]\['lock'\] \(an object "
                                         r"\(_thread.lock\)\) as a description only"):
        trainer.save_checkpoint(tmp_path / "x.ckpt")
    restored = Stamped()
    _trainer(tmp_path, [restored], enable_checkpointing=False).validate(Net(), loaders()[1],
                                                                         ckpt_path=str(tmp_path / "x.ckpt"))
    state = restored.state
    assert state["started"] == datetime.datetime(2025, 3, 1, 12, 30) and state["out"] == pathlib.Path("/runs/a")
    assert type(state["seen"]) is collections.Counter and state["seen"] == {"a": 2, "b": 1}
    assert isinstance(state["lock"], Placeholder) and state["lock"].type_name == "_thread.lock"


def test_non_zero_rank_writes_nothing_but_runs_the_hooks(tmp_path, monkeypatch):
    log: list = []
    trainer = _trainer(tmp_path, enable_checkpointing=False)
    trainer.fit(Recording(log), loaders()[0])
    from statetrainer.strategies import Strategy
    monkeypatch.setattr(Strategy, "global_rank", 1)  # this process plays rank 1 of a run
    trainer.save_checkpoint(tmp_path / "r.ckpt")
    assert not os.path.exists(tmp_path / "r.ckpt") and log == ["module.on_save_checkpoint"]


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


@pytest.mark.parametrize("fn", ["fit", "validate"])
def test_malicious_checkpoint_is_refused_by_the_trainer_and_never_runs(tmp_path, fn):
    marker = tmp_path / "pwned"
    torch.save({"state_dict": Net().state_dict(), "loops": _Payload(str(marker))}, tmp_path / "evil.ckpt")
    trainer = _trainer(tmp_path, enable_checkpointing=False)
    train, val = loaders()
    with pytest.raises(CheckpointError, match=r"needs arbitrary unpickling \(it names 'posix.mkdir'\)"):
        if fn == "fit":
            trainer.fit(Net(), train, ckpt_path=str(tmp_path / "evil.ckpt"))
        else:
            trainer.validate(Net(), val, ckpt_path=str(tmp_path / "evil.ckpt"))
    assert not marker.exists() and trainer.state.status == "interrupted"
