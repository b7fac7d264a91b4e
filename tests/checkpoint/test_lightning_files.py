"""Checkpoints written by the real Lightning 2.x: loading, evaluating, callback states, the fit-loop position."""
from __future__ import annotations

import os
import pathlib
import warnings

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

import statetrainer as st
from statetrainer.checkpoint import io
from statetrainer.checkpoint.lightning_format import is_lightning_checkpoint, position_from_lightning
from statetrainer.errors import CheckpointError

from .helpers import QUIET, dataset

pl = pytest.importorskip("lightning.pytorch")


def _step(module, batch):
    x, y = batch
    return nn.functional.mse_loss(module.out(torch.tanh(module.inner(x))), y)


class Ours(st.StateModule):
    """The same network under statetrainer (same parameter names, same steps)."""

    def __init__(self, hidden: int = 8, lr: float = 0.1):
        super().__init__()
        self.save_hyperparameters()
        self.inner, self.out = nn.Linear(4, hidden), nn.Linear(hidden, 1)

    def training_step(self, batch, batch_idx):
        return _step(self, batch)

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", _step(self, batch))

    test_step = validation_step

    def predict_step(self, batch, batch_idx):
        return self.out(torch.tanh(self.inner(batch[0])))

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.MultiStepLR(optimizer, [1, 2])}


def _lightning_class():
    class Theirs(pl.LightningModule):
        def __init__(self, hidden: int = 8, lr: float = 0.1, **extra):
            super().__init__()
            self.save_hyperparameters()
            self.inner, self.out = nn.Linear(4, hidden), nn.Linear(hidden, 1)

        training_step = Ours.training_step
        validation_step = Ours.validation_step
        test_step = Ours.validation_step
        configure_optimizers = Ours.configure_optimizers

    return Theirs


class Saver(pl.Callback):
    """Saves a checkpoint from each hook of HOOKS (on_train_batch_end: the 3rd and the last batch of an epoch)."""

    def __init__(self, folder):
        self.folder, self.count = folder, 0

    def _save(self, trainer, hook):
        if not trainer.sanity_checking:
            self.count += 1
            trainer.save_checkpoint(os.path.join(self.folder, f"{self.count:02d}-{hook}.ckpt"))

    def on_train_start(self, trainer, module):
        self._save(trainer, "on_train_start")

    def on_train_epoch_start(self, trainer, module):
        self._save(trainer, "on_train_epoch_start")

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if batch_idx in (2, 9):
            self._save(trainer, "on_train_batch_end")

    def on_validation_end(self, trainer, module):
        self._save(trainer, "on_validation_end")

    def on_train_epoch_end(self, trainer, module):
        self._save(trainer, "on_train_epoch_end")

    def on_train_end(self, trainer, module):
        self._save(trainer, "on_train_end")


def _loaders():
    return DataLoader(dataset(), batch_size=4), DataLoader(dataset(), batch_size=20)


@pytest.fixture(scope="module")
def lightning_run(tmp_path_factory):
    """One Lightning fit of 3 epochs: a checkpoint from each hook, ModelCheckpoint files and EarlyStopping state."""
    root = tmp_path_factory.mktemp("lightning")
    os.makedirs(root / "moments")
    pl.seed_everything(5)
    callbacks = [Saver(str(root / "moments")),
                 pl.callbacks.ModelCheckpoint(dirpath=root / "best", monitor="val_loss", save_top_k=2, save_last=True),
                 pl.callbacks.EarlyStopping("val_loss", patience=3)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = pl.Trainer(max_epochs=3, callbacks=callbacks, logger=False, enable_progress_bar=False,
                             enable_model_summary=False, num_sanity_val_steps=0, deterministic=True)
        model = _lightning_class()(hidden=6, lr=0.05)
        trainer.fit(model, *_loaders())
        validated = trainer.validate(model, _loaders()[1], ckpt_path=str(root / "best" / "last.ckpt"), verbose=False)
    states = {type(cb).__name__: cb.state_dict() for cb in callbacks[1:]}
    return root, model, states, validated[0]["val_loss"]


# (file, expected position): 10 batches per epoch, a checkpoint from every hook named in the file
POSITIONS = [
    ("01-on_train_start", dict(epoch=0, global_step=0, batches_in_epoch=0, epoch_finished=False)),
    ("02-on_train_epoch_start", dict(epoch=0, global_step=0, batches_in_epoch=0, epoch_finished=False)),
    ("03-on_train_batch_end", dict(epoch=0, global_step=3, batches_in_epoch=3, epoch_finished=False,
                                   batch_decided=False)),
    ("04-on_train_batch_end", dict(epoch=0, global_step=10, batches_in_epoch=10, epoch_finished=False,
                                   batch_decided=False)),
    ("05-on_validation_end", dict(epoch=0, global_step=10, batches_in_epoch=10, epoch_finished=False)),
    ("06-on_train_epoch_end", dict(epoch=0, global_step=10, batches_in_epoch=10, epoch_finished=True)),
    ("07-on_train_epoch_start", dict(epoch=1, global_step=10, batches_in_epoch=0, epoch_finished=False)),
    ("08-on_train_batch_end", dict(epoch=1, global_step=13, batches_in_epoch=3, epoch_finished=False,
                                   batch_decided=False)),
    ("17-on_train_end", dict(epoch=2, global_step=30, batches_in_epoch=10, epoch_finished=True)),
]


@pytest.mark.parametrize("name, expected", POSITIONS, ids=[name for name, _ in POSITIONS])
def test_position_from_lightning_at_each_hook(lightning_run, name, expected):
    root = lightning_run[0]
    checkpoint = io.load(root / "moments" / f"{name}.ckpt")
    assert is_lightning_checkpoint(checkpoint)
    assert position_from_lightning(checkpoint) == {"batch_decided": True, **expected}


def test_position_needs_lightning_fit_progress():
    with pytest.raises(CheckpointError, match=r"has no checkpoint\['loops'\]\['fit_loop'\] entry"):
        position_from_lightning({"state_dict": {}, "loops": {}})
    with pytest.raises(CheckpointError, match=r"entry 'epoch_progress' lacks the counts"):
        position_from_lightning({"loops": {"fit_loop": {"epoch_progress": {"current": {"ready": 1}}}}})


def test_load_from_checkpoint_reads_a_lightning_file(lightning_run):
    root, theirs, _, _ = lightning_run
    ours = Ours.load_from_checkpoint(root / "best" / "last.ckpt")
    assert dict(ours.hparams) == {"hidden": 6, "lr": 0.05}
    reference = theirs.state_dict()
    assert all(torch.equal(value, reference[key]) for key, value in ours.state_dict().items())


def test_validate_test_and_predict_with_a_lightning_ckpt_path(lightning_run, tmp_path):
    root, theirs, _, their_val_loss = lightning_run
    trainer = st.Trainer(default_root_dir=str(tmp_path), **QUIET)
    path = str(root / "best" / "last.ckpt")
    result = trainer.validate(Ours(hidden=6), _loaders()[1], ckpt_path=path, verbose=False)
    assert result[0]["val_loss"] == pytest.approx(their_val_loss, abs=0)
    assert trainer.test(Ours(hidden=6), _loaders()[1], ckpt_path=path, verbose=False)[0]["val_loss"] == \
        pytest.approx(their_val_loss, abs=0)
    predictions = trainer.predict(Ours(hidden=6), _loaders()[1], ckpt_path=path)
    x = dataset().tensors[0][:20]
    assert torch.equal(predictions[0], theirs.out(torch.tanh(theirs.inner(x))).detach())


def test_callback_states_that_map_are_restored(lightning_run, tmp_path):
    root, _, states, _ = lightning_run
    checkpoint = st.callbacks.ModelCheckpoint(dirpath=root / "best", monitor="val_loss", save_top_k=2, save_last=True)
    stopping = st.callbacks.EarlyStopping("val_loss", patience=3)
    trainer = st.Trainer(default_root_dir=str(tmp_path), callbacks=[checkpoint, stopping], **QUIET)
    trainer.validate(Ours(hidden=6), _loaders()[1], ckpt_path=str(root / "best" / "last.ckpt"), verbose=False)
    theirs = states["ModelCheckpoint"]
    assert checkpoint.best_model_path == theirs["best_model_path"] and checkpoint.best_k_models == \
        theirs["best_k_models"]
    assert torch.equal(checkpoint.best_model_score, theirs["best_model_score"])
    assert checkpoint.kth_best_model_path == theirs["kth_best_model_path"]
    assert checkpoint.last_model_path == theirs["last_model_path"]
    early = states["EarlyStopping"]
    assert stopping.wait_count == early["wait_count"] and torch.equal(stopping.best_score, early["best_score"])


@pytest.mark.parametrize("moment", ["06-on_train_epoch_end", "05-on_validation_end", "08-on_train_batch_end",
                                    "07-on_train_epoch_start"])
def test_fit_continues_a_lightning_checkpoint_to_lightnings_final_weights(lightning_run, tmp_path, moment):
    """From an epoch's end or from inside an epoch (replayed from the unshuffled loader): the weights of
    Lightning's uninterrupted run."""
    root, theirs, _, _ = lightning_run
    ours = Ours(hidden=6, lr=0.05)
    st.seed_everything(5)
    trainer = st.Trainer(default_root_dir=str(tmp_path), max_epochs=3, num_sanity_val_steps=0, deterministic=True,
                         **QUIET)
    trainer.fit(ours, *_loaders(), ckpt_path=str(root / "moments" / f"{moment}.ckpt"))
    assert trainer.global_step == 30 and trainer.current_epoch == 3
    reference = theirs.state_dict()
    assert all(torch.equal(value, reference[key]) for key, value in ours.state_dict().items())


# ---------------------------------------------------------------- a Lightning file that needs unpickling


@pytest.fixture(scope="module")
def pickled_hparams(tmp_path_factory):
    """Lightning pickles a Path hyper-parameter as a PosixPath object: the file needs arbitrary unpickling."""
    root = tmp_path_factory.mktemp("pickled")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = pl.Trainer(max_epochs=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                             enable_checkpointing=False, limit_train_batches=2, limit_val_batches=0)
        trainer.fit(_lightning_class()(hidden=6, root=pathlib.Path("/data/x")), _loaders()[0])
        trainer.save_checkpoint(root / "pickled.ckpt")
    return str(root / "pickled.ckpt")


def test_a_lightning_file_that_needs_unpickling_is_refused(pickled_hparams, tmp_path):
    class WithRoot(Ours):
        def __init__(self, hidden: int = 8, lr: float = 0.1, root=None):
            super().__init__(hidden, lr)

    with pytest.raises(CheckpointError) as info:
        WithRoot.load_from_checkpoint(pickled_hparams)
    assert str(info.value) == (
        f"checkpoint {pickled_hparams!r} needs arbitrary unpickling (it names 'pathlib.PosixPath'), which is refused: "
        "a statetrainer checkpoint holds only tensors and plain containers; pass weights_only=False only if you trust "
        "the file's origin.")
    with pytest.raises(CheckpointError, match="needs arbitrary unpickling"):
        st.Trainer(default_root_dir=str(tmp_path), **QUIET).validate(WithRoot(hidden=6), _loaders()[1],
                                                                     ckpt_path=pickled_hparams)
    loaded = WithRoot.load_from_checkpoint(pickled_hparams, weights_only=False)
    assert loaded.hparams.root == pathlib.Path("/data/x") and loaded.hparams.hidden == 6
    result = st.Trainer(default_root_dir=str(tmp_path), **QUIET).validate(
        WithRoot(hidden=6), _loaders()[1], ckpt_path=pickled_hparams, weights_only=False, verbose=False)
    assert set(result[0]) == {"val_loss"}
