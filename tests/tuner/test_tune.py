"""trainer.tune(): the finders the auto_lr_find / auto_scale_batch_size flags ask for."""
from __future__ import annotations

import pytest

import statetrainer as st
from statetrainer.errors import MisconfigurationError
from statetrainer.tuner import LRFinder
from tests.tuner.helpers import Regression, same_state, trainer


def test_tune_runs_binsearch_then_the_lr_finder():
    model = Regression(limit=24)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    tr = trainer(auto_lr_find=True, auto_scale_batch_size="binsearch")
    result = tr.tune(model, scale_batch_size_kwargs={"margin": 0.0}, lr_find_kwargs={"num_training": 30})
    assert sorted(result) == ["lr_find", "scale_batch_size"]
    assert result["scale_batch_size"] == model.batch_size == 24
    finder = result["lr_find"]
    assert isinstance(finder, LRFinder) and model.lr == finder.suggestion() != 1e-3
    # the lr finder trained with the size just found (16: the last of 64 validation samples at epoch end)
    assert set(model.sizes[-30:]) == {24, 16}
    assert same_state(weights, model.state_dict())
    assert tr.state.fn == "tune" and tr.global_step == 0


def test_auto_lr_find_names_the_attribute_and_true_scales_by_powers():
    model = Regression(limit=16)
    model.base_lr = 0.3
    tr = trainer(auto_lr_find="base_lr", auto_scale_batch_size=True)
    result = tr.tune(model, lr_find_kwargs={"num_training": 20})
    assert result["scale_batch_size"] == 16 and model.base_lr == result["lr_find"].suggestion()
    assert model.lr == 1e-3


def test_tune_with_only_the_lr_flag_and_dataloaders_given():
    from torch.utils.data import DataLoader

    from tests.tuner.helpers import regression_data
    model = Regression()
    result = trainer(auto_lr_find=True).tune(model, DataLoader(regression_data(), batch_size=16),
                                             lr_find_kwargs={"num_training": 14, "min_lr": 1e-3})
    assert list(result) == ["lr_find"] and len(result["lr_find"].results["lr"]) == 14
    assert set(model.sizes) == {16}


def test_tune_with_nothing_to_do_warns():
    with pytest.warns(UserWarning, match="trainer.tune\\(\\) ran nothing"):
        assert trainer().tune(Regression()) == {}


@pytest.mark.parametrize("flags, message", [
    (dict(auto_scale_batch_size="linear"),
     r"`auto_scale_batch_size` got 'linear'; accepted: False, True \(= 'power'\), 'power' or 'binsearch'"),
    (dict(auto_scale_batch_size=2), r"`auto_scale_batch_size` got 2; accepted"),
    (dict(auto_lr_find=1.0), r"`auto_lr_find` got 1.0; accepted: True, False, or the name"),
])
def test_bad_flags_are_refused_by_name(flags, message):
    with pytest.raises(MisconfigurationError, match=message):
        trainer(**flags).tune(Regression())


def test_unknown_tune_arguments_and_non_modules_are_refused():
    with pytest.raises(MisconfigurationError, match=r"unknown argument\(s\) \['lr_kwargs'\]; accepted: "
                                                    "scale_batch_size_kwargs, lr_find_kwargs"):
        trainer(auto_lr_find=True).tune(Regression(), lr_kwargs={})
    with pytest.raises(MisconfigurationError, match="`model` got 'Linear'; accepted: a statetrainer.StateModule"):
        st.Tuner(trainer()).lr_find(__import__("torch").nn.Linear(1, 1))
    with pytest.raises(MisconfigurationError, match="`trainer` got 3; accepted: a statetrainer.Trainer"):
        st.Tuner(3)
