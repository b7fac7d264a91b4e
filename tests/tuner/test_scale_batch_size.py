"""Tuner.scale_batch_size on real trial runs, with a fake out-of-memory error above a size limit."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

import statetrainer as st
from statetrainer.errors import MisconfigurationError
from tests.tuner.helpers import Regression, regression_data, same_state, trainer


def trials(sizes: list[int], steps: int = 3) -> list[int]:
    """The size of each trial, from the per-step sizes the model recorded (each trial runs `steps` steps
    unless it fails on its first)."""
    out, i = [], 0
    while i < len(sizes):
        out.append(sizes[i])
        run = 1
        while run < steps and i + run < len(sizes) and sizes[i + run] == sizes[i]:
            run += 1
        i += run
    return out


def test_power_mode_finds_the_largest_power_of_two_that_fits():
    model = Regression(limit=16, lr=0.05)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    tr = trainer()
    assert st.Tuner(tr).scale_batch_size(model) == 16
    assert model.batch_size == 16
    assert trials(model.sizes) == [2, 4, 8, 16, 32]
    assert same_state(weights, model.state_dict())
    assert (tr.global_step, tr.current_epoch) == (0, 0)


def test_binsearch_finds_a_size_between_powers_of_two():
    model = Regression(limit=24)
    assert st.Tuner(trainer()).scale_batch_size(model, mode="binsearch", margin=0.0) == 24
    assert model.batch_size == 24
    assert trials(model.sizes) == [2, 4, 8, 16, 32, 24, 28, 26, 25]
    default_margin = Regression(limit=24)
    assert st.Tuner(trainer()).scale_batch_size(default_margin, mode="BinSearch") == 22   # 24 minus 5%


def test_the_found_size_then_trains():
    model = Regression(limit=24)
    tr = trainer(max_epochs=1)
    st.Tuner(tr).scale_batch_size(model, mode="binsearch", margin=0.0)
    model.sizes.clear()
    tr.fit(model)
    assert max(model.sizes) == 24 and tr.global_step == 11   # 256 samples: 10 x 24 + 16


class DataOwned(st.DataModule):
    def __init__(self, batch_size: int = 4):
        super().__init__()
        self.batch_size = batch_size

    def train_dataloader(self):
        return DataLoader(regression_data(), batch_size=self.batch_size)


class NoLoaders(Regression):
    train_dataloader = st.StateModule.train_dataloader
    val_dataloader = st.StateModule.val_dataloader


def test_the_size_lives_in_the_datamodule_when_the_model_has_none():
    model = NoLoaders(limit=8)
    del model.batch_size
    dm = DataOwned()
    assert st.Tuner(trainer()).scale_batch_size(model, datamodule=dm, init_val=4) == 8
    assert dm.batch_size == 8 and not hasattr(model, "batch_size")


def test_validate_method_runs_validation_trials():
    model = Regression(limit=32)
    assert st.Tuner(trainer()).scale_batch_size(model, method="validate", steps_per_trial=2) == 32
    assert trials(model.sizes, steps=2) == [2, 4, 8, 16, 32, 64]


class Broken(Regression):
    def training_step(self, batch, batch_idx):
        if batch[0].shape[0] >= 8:
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")
        return super().training_step(batch, batch_idx)


def test_other_errors_propagate_and_leave_the_users_batch_size():
    model = Broken(batch_size=5)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        st.Tuner(trainer()).scale_batch_size(model)
    assert model.batch_size == 5
    assert same_state(weights, model.state_dict())


@pytest.mark.parametrize("call, message", [
    (dict(mode="linear"), r"`mode` got 'linear'; accepted: 'power', 'binsearch'"),
    (dict(method="tune"), r"`method` got 'tune'; accepted: 'fit', 'validate', 'test', 'predict'"),
    (dict(steps_per_trial=0), r"`steps_per_trial` got 0; accepted: an int >= 1"),
    (dict(init_val=2.5), r"`init_val` got 2.5; accepted: an int >= 1"),
    (dict(margin=1.0), r"`margin` got 1.0; accepted: a number in \[0.0, 1.0\)"),
    (dict(batch_arg_name="bs"), r"`batch_arg_name` got 'bs', which is not an attribute"),
    (dict(train_dataloaders=DataLoader(regression_data())), r"scale_batch_size got `train_dataloaders`; accepted: "
                                                            r"data from the model's or the datamodule's"),
    (dict(method="test", val_dataloaders=[1]), r"`train_dataloaders`/`val_dataloaders` were given with method='test'"),
])
def test_bad_arguments_are_refused_by_name(call, message):
    with pytest.raises(MisconfigurationError, match=message):
        st.Tuner(trainer()).scale_batch_size(Regression(), **call)


def test_skipped_under_fast_dev_run():
    model = Regression()
    with pytest.warns(UserWarning, match="Skipping the batch size finder"):
        assert st.Tuner(trainer(fast_dev_run=2)).scale_batch_size(model) is None
    assert model.batch_size == 8 and model.sizes == []


def test_a_size_held_by_the_model_and_its_hparams_warns():
    class Twice(Regression):
        def __init__(self, batch_size=4):
            super().__init__(batch_size=batch_size)
            self.save_hyperparameters()

    model = Twice()
    with pytest.warns(UserWarning, match=r"`model.batch_size` and `model.hparams.batch_size` both exist"):
        size = st.Tuner(trainer()).scale_batch_size(model, max_trials=2)
    assert size == model.batch_size == model.hparams.batch_size == 4
