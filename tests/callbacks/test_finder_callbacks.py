"""LearningRateFinder and BatchSizeFinder callbacks, side by side with Lightning's on the same model and data."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch.utils.data import DataLoader

import statetrainer as st
from statetrainer.callbacks import BatchSizeFinder, LearningRateFinder
from tests.tuner.helpers import QUIET, Regression, regression_class, regression_data, same_state

pl = pytest.importorskip("lightning.pytorch")


@pytest.fixture(autouse=True)
def _no_lightning_gc(monkeypatch):
    """Lightning collects garbage around every batch-size trial (~0.5 s each here); irrelevant to the results."""
    monkeypatch.setattr("lightning.pytorch.tuner.batch_size_scaling.garbage_collection_cuda", lambda: None)


def with_predict(base: type) -> type:
    class Predicting(regression_class(base)):
        def predict_step(self, batch, batch_idx):
            return self._step(batch)

        def predict_dataloader(self):
            return self.val_dataloader()
    return Predicting


MODULES = {pl: with_predict(pl.LightningModule), st: with_predict(st.StateModule)}


def both_fit(make_callback, fn: str = "fit", seed: int = 0, model_kwargs=None, **flags):
    """Run `fn` with the callback under Lightning and statetrainer: [(module, callback, trainer)] (theirs, ours)."""
    runs = []
    for module_cls, trainer_cls, lib, extra in ((MODULES[pl], pl.Trainer, pl, {"accelerator": "cpu"}),
                                                (MODULES[st], st.Trainer, st, {})):
        warnings.filterwarnings("ignore")
        torch.manual_seed(seed)
        model = module_cls(**(model_kwargs or {}))
        callback = make_callback(lib)
        trainer = trainer_cls(**QUIET, callbacks=[callback], **{"max_epochs": 2, **flags}, **extra)
        getattr(trainer, fn)(model)
        runs.append((model, callback, trainer))
    return runs


def test_lr_finder_callback_matches_lightning():
    kwargs = dict(min_lr=1e-4, max_lr=3.0, num_training_steps=30)
    (theirs, their_cb, their_tr), (ours, our_cb, our_tr) = both_fit(
        lambda lib: lib.callbacks.LearningRateFinder(**kwargs), model_kwargs=dict(n=256, batch_size=16))
    assert our_cb.optimal_lr.results["lr"] == their_cb.optimal_lr.results["lr"]
    assert our_cb.optimal_lr.results["loss"] == pytest.approx(their_cb.optimal_lr.results["loss"], rel=1e-5)
    suggestion = our_cb.optimal_lr.suggestion()
    assert suggestion == their_cb.optimal_lr.suggestion() == ours.lr == theirs.lr
    # the fit after the search starts from the weights before it, with the suggested lr in its optimizer
    assert our_tr.optimizers[0].param_groups[0]["lr"] == their_tr.optimizers[0].param_groups[0]["lr"] == suggestion
    assert our_tr.global_step == their_tr.global_step == 32
    torch.testing.assert_close(ours.layer.weight, theirs.layer.weight)


def test_lr_finder_callback_range_downwards_matches_lightning():
    (_, their_cb, _), (_, our_cb, _) = both_fit(
        lambda lib: lib.callbacks.LearningRateFinder(min_lr=1.0, max_lr=1e-3, num_training_steps=5,
                                                     update_attr=False), max_epochs=1, model_kwargs=dict(n=64))
    assert our_cb.optimal_lr.results["lr"] == their_cb.optimal_lr.results["lr"]
    assert all(1e-3 <= lr <= 1.0 for lr in our_cb.optimal_lr.results["lr"])


@pytest.mark.parametrize("mode", ["power", "binsearch"])
def test_batch_size_finder_callback_in_fit_matches_lightning(mode):
    (theirs, their_cb, their_tr), (ours, our_cb, our_tr) = both_fit(
        lambda lib: lib.callbacks.BatchSizeFinder(mode=mode), model_kwargs=dict(limit=24, n=256, batch_size=4))
    assert our_cb.optimal_batch_size == their_cb.optimal_batch_size == ours.batch_size == theirs.batch_size
    assert our_cb.optimal_batch_size == {"power": 16, "binsearch": 22}[mode]
    assert our_tr.train_dataloader.batch_size == their_tr.train_dataloader.batch_size == our_cb.optimal_batch_size
    assert our_tr.global_step == their_tr.global_step
    # after Lightning's first trial (run at the module's own size) both tried the same sizes
    assert ours.sizes[3:] == theirs.sizes[3:]


@pytest.mark.parametrize("fn", ["validate", "predict"])
def test_batch_size_finder_callback_in_evaluation_matches_lightning(fn):
    (theirs, their_cb, _), (ours, our_cb, _) = both_fit(
        lambda lib: lib.callbacks.BatchSizeFinder(max_trials=4), fn=fn, model_kwargs=dict(n=64, batch_size=2))
    assert our_cb.optimal_batch_size == their_cb.optimal_batch_size == ours.batch_size == 16
    # the call itself ran at the size found: 64 samples in batches of 16
    assert ours.sizes[-4:] == theirs.sizes[-4:] == [16, 16, 16, 16]


def test_batch_size_finder_refuses_loaders_given_to_fit():
    trainer = st.Trainer(**QUIET, max_epochs=1, callbacks=[BatchSizeFinder()])
    with pytest.raises(st.errors.MisconfigurationError, match="train dataloaders passed to `fit`"):
        trainer.fit(Regression(), DataLoader(regression_data(16), batch_size=4))


def test_batch_size_finder_needs_the_attribute():
    trainer = st.Trainer(**QUIET, max_epochs=1, callbacks=[BatchSizeFinder(batch_arg_name="bs")])
    with pytest.raises(st.errors.MisconfigurationError, match="batch_arg_name='bs'"):
        trainer.fit(Regression())


class EpochLRFinder(LearningRateFinder):
    """Lightning's documented pattern: search at chosen epochs instead of at fit start."""

    def __init__(self, milestones, **kwargs):
        super().__init__(**kwargs)
        self.milestones, self.found = milestones, []

    def on_fit_start(self, trainer, pl_module):
        return

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch in self.milestones:
            before = {k: v.clone() for k, v in pl_module.state_dict().items()}
            self.lr_find(trainer, pl_module)
            assert same_state(before, pl_module.state_dict()) and pl_module.trainer is trainer
            self.found.append((trainer.current_epoch, self.optimal_lr.suggestion()))


def test_lr_finder_from_another_hook_leaves_the_fit_running():
    torch.manual_seed(0)
    finder = EpochLRFinder(milestones=(0, 1), num_training_steps=20, early_stop_threshold=None)
    model = Regression(n=64, batch_size=8)
    trainer = st.Trainer(**QUIET, max_epochs=3, callbacks=[finder])
    trainer.fit(model)
    assert [epoch for epoch, _ in finder.found] == [0, 1] and trainer.global_step == 24
    assert trainer.state.finished and model.lr == finder.found[-1][1]
    assert trainer.optimizers[0].param_groups[0]["lr"] == model.lr


def test_a_failing_search_fails_fit_and_restores_the_model():
    class Failing(Regression):
        def training_step(self, batch, batch_idx):
            if self.trainer.global_step >= 2:
                raise RuntimeError("fails in the search")
            return super().training_step(batch, batch_idx)

    model = Failing()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = st.Trainer(**QUIET, max_epochs=1, callbacks=[LearningRateFinder(num_training_steps=5)])
    with pytest.raises(RuntimeError, match="fails in the search"):
        trainer.fit(model)
    assert same_state(before, model.state_dict()) and trainer.state.stopped and not trainer.state.finished


def test_fast_dev_run_skips_the_search():
    finder = LearningRateFinder()
    with pytest.warns(UserWarning, match="fast_dev_run"):
        st.Trainer(**QUIET, fast_dev_run=True, callbacks=[finder]).fit(Regression())
    assert finder.optimal_lr is None


@pytest.mark.parametrize("cls, kwargs, match", [
    (LearningRateFinder, dict(mode="cubic"), "mode"), (BatchSizeFinder, dict(mode="grow"), "mode"),
    (BatchSizeFinder, dict(margin=1.5), "margin"), (LearningRateFinder, dict(num_training_steps=0), "num_training"),
])
def test_bad_arguments_are_refused_by_name(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("callback, method", [(LearningRateFinder, "lr_find"), (BatchSizeFinder, "scale_batch_size")])
def test_tuner_refuses_a_trainer_that_already_has_the_finder(callback, method):
    tuner = st.Tuner(st.Trainer(**QUIET, callbacks=[callback()]))
    with pytest.raises(ValueError, match=f"already has a {callback.__name__}"):
        getattr(tuner, method)(Regression())
