"""ModelCheckpoint: configuration, names, top-k, last files, state across resume, and Lightning parity."""
from __future__ import annotations

import math
import os
from datetime import timedelta

import pytest
import torch

import statetrainer as st
from statetrainer.callbacks.model_checkpoint import ModelCheckpoint
from statetrainer.checkpoint import io
from statetrainer.checkpoint.topk import TopK
from statetrainer.errors import MisconfigurationError
from tests.checkpoint.helpers import Net, Scripted, fit
from tests.checkpoint.twin import files, run_lightning, run_ours, view

# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize("kwargs, message", [
    (dict(save_top_k=-2), r"`ModelCheckpoint\(save_top_k\)` got -2; accepted: -1 \(all\), 0 \(none\) or k >= 1"),
    (dict(save_top_k=3), r"`ModelCheckpoint\(save_top_k\)` got 3; accepted: -1, 0 or 1 when monitor=None"),
    (dict(mode="avg", monitor="x"), r"`mode` got 'avg'; accepted: 'min' or 'max'"),
    (dict(every_n_train_steps=-1), r"every_n_train_steps\)` got -1"),
    (dict(every_n_epochs=-3), r"every_n_epochs\)` got -3"),
    (dict(every_n_epochs=2, every_n_train_steps=3), r"every_n_train_steps=3, every_n_epochs=2 .*at most one"),
    (dict(save_last="always"), r"`ModelCheckpoint\(save_last\)` got 'always'; accepted: None, True, False or 'link'"),
])
def test_bad_configuration_is_refused(kwargs, message):
    with pytest.raises(MisconfigurationError, match=message):
        ModelCheckpoint(**kwargs)


def test_state_key_names_the_distinguishing_settings():
    callback = ModelCheckpoint(monitor="val_loss", mode="max", every_n_train_steps=5)
    assert callback.state_key == ("ModelCheckpoint{'monitor': 'val_loss', 'mode': 'max', 'every_n_train_steps': 5, "
                                  "'every_n_epochs': 0, 'train_time_interval': None}")


def test_format_checkpoint_name_with_version_and_folder(tmp_path):
    callback = ModelCheckpoint(dirpath=tmp_path, filename="{epoch:02d}-{val_loss:.3f}")
    metrics = {"epoch": torch.tensor(3), "val_loss": torch.tensor(0.12345)}
    assert callback.format_checkpoint_name(metrics) == str(tmp_path / "epoch=03-val_loss=0.123.ckpt")
    assert callback.format_checkpoint_name(metrics, ver=2) == str(tmp_path / "epoch=03-val_loss=0.123-v2.ckpt")


# ---------------------------------------------------------------- the top-k book


def test_topk_keeps_the_k_best_and_names_the_kth():
    book = TopK("min", 2)
    for path, score in (("a", 3.0), ("b", 1.0)):
        book.pop_kth_if_full(2)
        book.add(path, torch.tensor(score), 2)
    assert (book.best_path, float(book.best_score), book.kth_path, float(book.kth_value)) == ("b", 1.0, "a", 3.0)
    assert book.accepts(torch.tensor(2.0)) and not book.accepts(torch.tensor(3.0))
    assert book.pop_kth_if_full(2) == "a"
    book.add("c", torch.tensor(float("nan")), 2)  # NaN ranks worst
    assert book.kth_path == "c" and math.isinf(float(book.scores["c"]))


def test_topk_all_grows_without_limit():
    book = TopK("max", -1)
    for index in range(5):
        k = book.capacity()
        assert book.pop_kth_if_full(k) is None
        book.add(str(index), torch.tensor(float(index)), k)
    assert len(book.scores) == 5 and book.best_path == "4" and book.kth_path == "0"


# ---------------------------------------------------------------- behaviour in fit


def test_default_callback_keeps_the_last_epoch_under_the_root(tmp_path):
    _, trainer = fit(tmp_path, max_epochs=3)
    callback = trainer.checkpoint_callback
    assert files(tmp_path / "checkpoints") == ["epoch=2-step=30.ckpt"]
    assert callback.best_model_path == str(tmp_path / "checkpoints" / "epoch=2-step=30.ckpt")
    assert callback.best_model_score is None and callback.last_model_path == ""


def test_default_folder_follows_the_logger_version(tmp_path):
    _, trainer = fit(tmp_path, max_epochs=1, logger=st.loggers.CSVLogger(tmp_path, name="exp", version=4))
    assert files(tmp_path / "exp" / "version_4" / "checkpoints") == ["epoch=0-step=10.ckpt"]


def test_only_global_rank_zero_writes(tmp_path, monkeypatch):
    callback = ModelCheckpoint(dirpath=tmp_path / "ck", save_last=True)
    from statetrainer.strategies import Strategy
    monkeypatch.setattr(Strategy, "global_rank", 1)  # this process plays rank 1 of a run
    fit(tmp_path, max_epochs=2, callbacks=[callback])
    assert files(tmp_path / "ck") == []
    assert os.path.basename(callback.best_model_path) == "epoch=1-step=20.ckpt"  # the bookkeeping still runs


def test_every_n_train_steps_with_last(tmp_path):
    callback = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=4, save_top_k=-1, save_last=True)
    fit(tmp_path, max_epochs=1, callbacks=[callback])
    assert files(tmp_path) == ["epoch=0-step=4.ckpt", "epoch=0-step=8.ckpt", "last.ckpt"]
    assert io.load(tmp_path / "last.ckpt")["global_step"] == 8


def test_train_time_interval_saves_by_the_clock(tmp_path, monkeypatch):
    import types

    from statetrainer.callbacks import model_checkpoint
    clock = {"now": 100.0}
    monkeypatch.setattr(model_checkpoint, "time", types.SimpleNamespace(monotonic=lambda: clock["now"]))

    class Tick(st.Callback):  # each batch takes one second of the fake clock
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            clock["now"] += 1.0
    callback = ModelCheckpoint(dirpath=tmp_path, train_time_interval=timedelta(seconds=2.5), save_top_k=-1)
    fit(tmp_path, max_epochs=1, callbacks=[Tick(), callback])
    assert files(tmp_path) == ["epoch=0-step=3.ckpt", "epoch=0-step=6.ckpt", "epoch=0-step=9.ckpt"]


def test_save_weights_only_leaves_out_the_training_state(tmp_path):
    fit(tmp_path, max_epochs=1, callbacks=[ModelCheckpoint(dirpath=tmp_path, save_weights_only=True)])
    checkpoint = io.load(tmp_path / "epoch=0-step=10.ckpt")
    assert "optimizer_states" not in checkpoint and "callbacks" not in checkpoint and "state_dict" in checkpoint


def test_missing_monitor_after_validation_is_an_error(tmp_path):
    with pytest.raises(MisconfigurationError, match=r"`ModelCheckpoint\(monitor='val_acc'\)` could not find the "
                                                    r"monitored key in the returned metrics: \[.*'val_loss'"):
        fit(tmp_path, max_epochs=1, callbacks=[ModelCheckpoint(dirpath=tmp_path, monitor="val_acc")])


def test_link_mode_points_last_at_the_newest_file(tmp_path):
    callback = ModelCheckpoint(dirpath=tmp_path, save_last="link", save_top_k=-1)
    fit(tmp_path, max_epochs=2, callbacks=[callback])
    assert os.path.islink(tmp_path / "last.ckpt")
    assert os.readlink(tmp_path / "last.ckpt") == "epoch=1-step=20.ckpt"


def test_best_checkpoint_for_validate_and_test(tmp_path):
    callback = ModelCheckpoint(dirpath=tmp_path, monitor="val_loss", save_top_k=1)
    module = Scripted([3.0, 1.0, 2.0])
    _, trainer = fit(tmp_path, model=module, callbacks=[callback])
    assert os.path.basename(callback.best_model_path) == "epoch=1-step=20.ckpt"
    from tests.checkpoint.helpers import loaders
    trainer.validate(module, loaders()[1], ckpt_path="best", verbose=False)
    assert trainer._ckpt_path == callback.best_model_path


def test_best_without_a_checkpoint_callback_is_refused(tmp_path):
    _, trainer = fit(tmp_path, max_epochs=1, enable_checkpointing=False)
    from tests.checkpoint.helpers import loaders
    with pytest.raises(MisconfigurationError, match=r'`.validate\(ckpt_path="best"\)` is set but no ModelCheckpoint'):
        trainer.validate(Net(), loaders()[1], ckpt_path="best")


def test_top_k_continues_after_resume(tmp_path):
    values = [5.0, 3.0, 4.0, 1.0, 2.0, 0.5]
    callback = ModelCheckpoint(dirpath=tmp_path / "ck", monitor="val_loss", save_top_k=2, save_last=True,
                               filename="{epoch}-{val_loss:.1f}")
    fit(tmp_path, model=Scripted(values), callbacks=[callback], max_epochs=3)
    assert files(tmp_path / "ck") == ["epoch=1-val_loss=3.0.ckpt", "epoch=2-val_loss=4.0.ckpt", "last.ckpt"]
    resumed = ModelCheckpoint(dirpath=tmp_path / "ck", monitor="val_loss", save_top_k=2, save_last=True,
                              filename="{epoch}-{val_loss:.1f}")
    module = Scripted(values)
    module.runs = 3  # the scripted sequence carries on where the first fit stopped
    fit(tmp_path, model=module, callbacks=[resumed], max_epochs=6, ckpt_path="last")
    assert files(tmp_path / "ck") == ["epoch=3-val_loss=1.0.ckpt", "epoch=5-val_loss=0.5.ckpt", "last.ckpt"]
    assert os.path.basename(resumed.best_model_path) == "epoch=5-val_loss=0.5.ckpt"
    assert float(resumed.best_model_score) == 0.5


def test_the_file_a_fit_resumed_from_is_never_pruned(tmp_path):
    fit(tmp_path, max_epochs=1, callbacks=[ModelCheckpoint(dirpath=tmp_path / "ck")])
    assert files(tmp_path / "ck") == ["epoch=0-step=10.ckpt"]
    callback = ModelCheckpoint(dirpath=tmp_path / "ck")  # top-1: would delete the previous best
    fit(tmp_path, max_epochs=3, callbacks=[callback], ckpt_path=str(tmp_path / "ck" / "epoch=0-step=10.ckpt"))
    assert files(tmp_path / "ck") == ["epoch=0-step=10.ckpt", "epoch=2-step=30.ckpt"]


def test_last_resolves_to_the_newest_last_file_of_a_previous_logger_version(tmp_path):
    logger = st.loggers.CSVLogger(tmp_path, name="run")
    callback = ModelCheckpoint(every_n_train_steps=3, save_last=True)
    fit(tmp_path, max_epochs=1, logger=logger, callbacks=[callback])
    assert os.path.dirname(callback.last_model_path).endswith(os.path.join("run", "version_0", "checkpoints"))
    second = ModelCheckpoint(every_n_train_steps=3, save_last=True)
    _, trainer = fit(tmp_path, max_epochs=2, logger=st.loggers.CSVLogger(tmp_path, name="run"), callbacks=[second],
                     ckpt_path="last")
    assert trainer._ckpt_path == callback.last_model_path and trainer.global_step == 20


def test_last_without_any_last_file_warns_and_starts_fresh(tmp_path):
    with pytest.warns(UserWarning, match=r'ckpt_path="last"\) is set, but there is no last checkpoint'):
        _, trainer = fit(tmp_path, max_epochs=1, ckpt_path="last")
    assert trainer.global_step == 10


# ---------------------------------------------------------------- Lightning parity

PARITY = {
    "top2_min": ([5, 3, 4, 1, 2, 6], dict(monitor="val_loss", save_top_k=2, filename="{epoch}-{val_loss:.2f}"), {}),
    "top3_max_last": ([1, 3, 2, 5, 4, 0], dict(monitor="val_loss", mode="max", save_top_k=3, save_last=True), {}),
    "all": ([3, 2, 1, 2, 3], dict(monitor="val_loss", save_top_k=-1, filename="{val_loss:.1f}"), {}),
    "none_last": ([3, 2, 1], dict(monitor="val_loss", save_top_k=0, save_last=True), {}),
    "no_monitor": ([1], dict(), {}),
    "no_monitor_all_steps": ([1], dict(save_top_k=-1, every_n_train_steps=7), {}),
    "every_2_epochs": ([4, 3, 2, 1, 0, 1], dict(monitor="val_loss", save_top_k=2, every_n_epochs=2), {}),
    "same_name_versions": ([3, 2, 1, 0], dict(monitor="val_loss", save_top_k=3, filename="const"), {}),
    "nan_ranks_worst": ([2, math.nan, 1, 3], dict(monitor="val_loss", save_top_k=2), {}),
    "ties": ([1, 1, 1, 1], dict(monitor="val_loss", save_top_k=2), {}),
    "half_epoch_val": ([5, 4, 6, 3, 7, 2], dict(monitor="val_loss", save_top_k=2), dict(val_check_interval=0.5)),
    "val_every_2": ([3, 1, 2], dict(monitor="val_loss", save_top_k=1, save_last=True), dict(check_val_every_n_epoch=2)),
    "no_auto_name": ([3, 1], dict(monitor="val_loss", filename="e{epoch}_l{val_loss:.1f}", auto_insert_metric_name=False), {}),
    "steps_monitor": ([4, 3, 5, 1], dict(monitor="val_loss", every_n_train_steps=5, save_top_k=2), dict(val_check_interval=5)),
}


@pytest.mark.parametrize("case", sorted(PARITY))
def test_same_files_and_book_as_lightning(tmp_path, case):
    callbacks = pytest.importorskip("lightning.pytorch.callbacks")
    values, options, flags = PARITY[case]
    flags = {"max_epochs": 6, **flags}
    ours = ModelCheckpoint(dirpath=tmp_path / "ours", **options)
    theirs = callbacks.ModelCheckpoint(dirpath=tmp_path / "theirs", **options)
    run_ours(tmp_path / "o", values, [ours], **flags)
    run_lightning(tmp_path / "l", values, [theirs], **flags)
    assert files(tmp_path / "ours") == files(tmp_path / "theirs")
    assert view(ours) == view(theirs)


def test_save_last_link_is_refused_for_a_remote_dirpath(tmp_path):
    callback = ModelCheckpoint(dirpath="memory://checkpoints", save_last="link")
    trainer = st.Trainer(default_root_dir=str(tmp_path), logger=False)
    with pytest.raises(MisconfigurationError, match=r"`ModelCheckpoint\(save_last='link'\)` got dirpath "
                                                    r"'memory://checkpoints', which is not a local folder"):
        callback.setup(trainer, Net(), "fit")
    assert isinstance(MisconfigurationError("x"), ValueError)  # what Lightning users catch
    local = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), save_last="link")
    local.setup(trainer, Net(), "fit")
