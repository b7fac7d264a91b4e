"""Tuner.lr_find: the range test on a real (trial) fit, its suggestion, and what it leaves behind."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

import statetrainer as st
from statetrainer.errors import MisconfigurationError
from statetrainer.tuner.lr_finder import LRFinder
from statetrainer.tuner.schedule import range_test_lr
from tests.tuner.helpers import Regression, same_state, trainer


def test_schedule_values_follow_lightnings_range_test():
    # before the first step: min_lr; step k >= 1: (k + 1) / n of the way (the 1/n point is skipped)
    assert range_test_lr(1e-4, 1.0, 4, 0, "exponential") == 1e-4
    assert range_test_lr(1e-4, 1.0, 4, 1, "exponential") == pytest.approx(1e-2)
    assert range_test_lr(1e-4, 1.0, 4, 3, "exponential") == pytest.approx(1.0)
    assert range_test_lr(0.0, 1.0, 4, 2, "linear") == 0.75


def test_lr_find_suggests_a_sensible_lr_and_writes_it_to_the_model():
    torch.manual_seed(0)
    model = Regression(batch_size=64, shuffle=True)
    finder = st.Tuner(trainer(max_epochs=100)).lr_find(model, min_lr=1e-3, max_lr=10.0)
    lrs, losses = finder.results["lr"], finder.results["loss"]
    assert len(lrs) == len(losses)
    assert lrs[0] == 1e-3 and all(b > a for a, b in zip(lrs, lrs[1:]))
    suggestion = finder.suggestion()
    # SGD on this problem converges below lr ~0.5; the suggestion is where the loss starts falling fast
    assert 1e-3 < suggestion < 0.5
    idx = finder._optimal_idx
    assert losses[idx + 10] < losses[idx]
    assert model.lr == suggestion
    # lr 10 diverges: the test stopped before its 100 steps
    assert len(lrs) < 100 and lrs[-1] > 1.0 and losses[-1] > 4 * min(losses)


def test_weights_optimizer_counters_and_rng_are_left_as_they_were():
    model = Regression(lr=0.05)
    tr = trainer(max_epochs=1)
    tr.fit(model)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    opt_state = tr.optimizers[0].state_dict()
    counters = (tr.global_step, tr.current_epoch, tr._position.counters())
    model.eval()
    st.Tuner(tr).lr_find(model, num_training=20, update_attr=False)
    assert same_state(weights, model.state_dict())
    assert tr.optimizers[0].state_dict() == opt_state
    assert (tr.global_step, tr.current_epoch, tr._position.counters()) == counters
    assert not model.training and model.lr == 0.05


def test_rng_streams_are_isolated():
    model = Regression(shuffle=True)

    def draws():
        return torch.rand(3), random.random(), np.random.rand()
    torch.manual_seed(7), random.seed(7), np.random.seed(7)
    expected = draws()
    torch.manual_seed(7), random.seed(7), np.random.seed(7)
    st.Tuner(trainer()).lr_find(model, num_training=5, update_attr=False)
    got = draws()
    assert torch.equal(got[0], expected[0]) and got[1:] == expected[1:]


class CachedOptimizer(Regression):
    """Returns the same optimizer object every time: the range test must hand it back untouched."""

    def configure_optimizers(self):
        if not hasattr(self, "_opt"):
            self._opt = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
        return self._opt


def test_a_cached_optimizer_gets_its_state_and_lr_back():
    model = CachedOptimizer(lr=0.01)
    tr = trainer(max_epochs=1)
    tr.fit(model)
    before = model._opt.state_dict()
    momentum = {k: v["momentum_buffer"].clone() for k, v in before["state"].items()}
    st.Tuner(tr).lr_find(model, num_training=15, update_attr=False)
    after = model._opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    assert "initial_lr" not in after["param_groups"][0] and after["param_groups"][0]["lr"] == 0.01
    assert all(torch.equal(after["state"][k]["momentum_buffer"], momentum[k]) for k in momentum)


class Scripted(Regression):
    """Loss 1.0 for the first 20 steps, then 100.0: a divergence at a known step."""

    def training_step(self, batch, batch_idx):
        value = 1.0 if self.trainer.global_step < 20 else 100.0
        return self.layer(batch[0]).sum() * 0 + value


def expected_stop(threshold: float = 4.0, beta: float = 0.98) -> int:
    """Re-derive Lightning's rule: bias-corrected running mean vs threshold x best, from step 2 on."""
    avg, best = 0.0, 0.0
    for step in range(1, 1000):
        loss = 1.0 if step <= 20 else 100.0
        avg = beta * avg + (1 - beta) * loss
        smoothed = avg / (1 - beta ** (step + 1))
        if step > 1 and smoothed > threshold * best:
            return step
        if smoothed < best or step == 1:
            best = smoothed
    raise AssertionError("never diverged")


def test_divergence_stops_the_search_early():
    finder = st.Tuner(trainer(max_epochs=100)).lr_find(Scripted(), num_training=100, update_attr=False)
    stop = expected_stop()
    assert 20 < stop < 100
    assert len(finder.results["lr"]) == len(finder.results["loss"]) == stop
    no_stop = st.Tuner(trainer(max_epochs=100)).lr_find(Scripted(), num_training=60, update_attr=False,
                                                        early_stop_threshold=None)
    assert len(no_stop.results["loss"]) == 60


class HparamsLR(Regression):
    def __init__(self, learning_rate: float = 0.1):
        super().__init__()
        del self.lr
        self.save_hyperparameters()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.learning_rate)


def test_suggestion_goes_to_the_hparam_when_there_is_no_attribute():
    model = HparamsLR()
    finder = st.Tuner(trainer()).lr_find(model, num_training=30, min_lr=1e-3)
    assert model.hparams.learning_rate == finder.suggestion() != 0.1
    assert model.hparams_initial.learning_rate == 0.1


def test_attr_name_picks_the_attribute():
    model = Regression()
    model.my_lr = 0.5
    finder = st.Tuner(trainer()).lr_find(model, num_training=30, attr_name="my_lr")
    assert model.my_lr == finder.suggestion() and model.lr == 1e-3


class Recorder(Regression):
    """Records what trainer.state.fn reads in the trial and on the user's trainer during the search."""

    def __init__(self, outer=None):
        super().__init__()
        self.outer, self.fns = outer, set()

    def training_step(self, batch, batch_idx):
        self.fns.add((self.trainer.state.fn, self.outer.state.fn, self.trainer is self.outer))
        return super().training_step(batch, batch_idx)


def test_state_fn_reads_tune_while_tuning():
    tr = trainer()
    model = Recorder(tr)
    st.Tuner(tr).lr_find(model, num_training=3, update_attr=False)
    assert model.fns == {("tune", "tune", False)}
    assert model.trainer is tr and tr.state.fn == "tune" and tr.lightning_module is model


def test_skipped_under_fast_dev_run():
    with pytest.warns(UserWarning, match="Skipping the learning rate finder since `fast_dev_run` is enabled"):
        assert st.Tuner(trainer(fast_dev_run=True)).lr_find(Regression()) is None


class TwoOptimizers(Regression):
    def __init__(self):
        super().__init__()
        self.automatic_optimization = False  # (automatic optimization refuses two optimizers itself)

    def configure_optimizers(self):
        return [torch.optim.SGD(self.parameters(), lr=0.1), torch.optim.SGD(self.parameters(), lr=0.1)]


@pytest.mark.parametrize("call, message", [
    (dict(method="validate"), r"`method` got 'validate'; accepted: 'fit'"),
    (dict(mode="cosine"), r"`mode` got 'cosine'; accepted: 'linear', 'exponential'"),
    (dict(min_lr=0), r"`min_lr` got 0; accepted: a number > 0"),
    (dict(min_lr=0.1, max_lr=0), r"`max_lr` got 0; accepted: a number > 0"),
    (dict(num_training=0), r"`num_training` got 0; accepted: an int >= 1"),
    (dict(early_stop_threshold=-1), r"`early_stop_threshold` got -1; accepted: a number > 0, or None"),
    (dict(attr_name="nope"), r"`attr_name` got 'nope', which is not an attribute .*accepted: one of `model.nope`"),
    (dict(dataloaders=[1]), r"`dataloaders` was given with method='fit'"),
])
def test_bad_arguments_are_refused_by_name(call, message):
    with pytest.raises(MisconfigurationError, match=message):
        st.Tuner(trainer()).lr_find(Regression(), **call)


def test_a_model_without_lr_and_two_optimizers_are_refused():
    model = Regression()
    del model.lr
    with pytest.raises(MisconfigurationError, match="found neither `lr` nor `learning_rate`"):
        st.Tuner(trainer()).lr_find(model)
    with pytest.raises(MisconfigurationError, match="returned 2 optimizers; accepted: exactly one"):
        st.Tuner(trainer()).lr_find(TwoOptimizers(), num_training=3)


def test_suggestion_steepest_descent_and_too_few_points():
    finder = LRFinder("exponential", 1e-3, 1.0, 8)
    finder.results = {"lr": [1, 2, 3, 4, 5, 6, 7, 8], "loss": [9.0, 9.0, 8.0, 4.0, 3.5, float("nan"), 3.0, 9.0]}
    assert finder.suggestion(skip_begin=0, skip_end=1) == 3   # slopes: 0, -2.5, -2.25, ... steepest around lr 3
    assert finder.suggestion(skip_begin=3, skip_end=1) == 4
    with pytest.warns(UserWarning, match="found 1 finite loss point"):
        assert finder.suggestion(skip_begin=6, skip_end=1) is None
    with pytest.raises(MisconfigurationError, match="`skip_end` got -1; accepted: an int >= 0"):
        finder.suggestion(skip_end=-1)


def test_plot_without_matplotlib_says_what_to_install(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    finder = LRFinder("exponential", 1e-3, 1.0, 3)
    finder.results = {"lr": [1e-3, 1e-2, 1.0], "loss": [1.0, 0.5, 2.0]}
    with pytest.raises(MisconfigurationError, match="LRFinder.plot needs matplotlib.*pip install matplotlib"):
        finder.plot()
    assert not math.isnan(finder.results["loss"][0])


class WithScheduler(Regression):
    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.lr)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.1),
                                                   "interval": "step"}}


def test_the_modules_scheduler_stands_aside_during_the_range_test():
    finder = st.Tuner(trainer()).lr_find(WithScheduler(), min_lr=1e-4, max_lr=1.0, num_training=10,
                                         early_stop_threshold=None, update_attr=False)
    expected = [range_test_lr(1e-4, 1.0, 10, k, "exponential") for k in range(10)]
    assert finder.results["lr"] == expected


class Interrupted(Regression):
    def training_step(self, batch, batch_idx):
        if batch_idx == 2:
            raise KeyboardInterrupt
        return super().training_step(batch, batch_idx)


def test_ctrl_c_in_a_trial_stops_tuning_with_everything_restored():
    model = Interrupted(lr=0.05)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(KeyboardInterrupt, match="tuning was interrupted during a fit trial"):
        st.Tuner(trainer()).lr_find(model, num_training=10)
    assert same_state(weights, model.state_dict()) and model.lr == 0.05


class OwnCallbacks(Regression):
    """configure_callbacks returns a callback that records its calls: it must not run in a trial."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def configure_callbacks(self):
        calls = self.calls

        class Spy(st.Callback):
            def on_train_batch_end(self, *args):
                calls.append("batch")
        return [Spy()]


def test_the_modules_callbacks_stay_out_of_the_trials():
    model = OwnCallbacks()
    st.Tuner(trainer()).lr_find(model, num_training=3, update_attr=False)
    assert model.calls == [] and "configure_callbacks" not in model.__dict__
    trainer(max_steps=2).fit(model)
    assert model.calls == ["batch", "batch"]
