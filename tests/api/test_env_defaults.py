"""PL_TRAINER_<FLAG> environment variables as Trainer flag defaults, compared with Lightning."""
from __future__ import annotations

import os

import pytest

import statetrainer as st
from tests.core.helpers import QUIET, Tiny, loader

ENVIRONMENTS = [
    {"PL_TRAINER_LOGGER": "False", "PL_TRAINER_MAX_STEPS": "7"},
    {"PL_TRAINER_MAX_EPOCHS": "3", "PL_TRAINER_LIMIT_TRAIN_BATCHES": "0.5", "PL_TRAINER_BLABLABLA": "1"},
    {"PL_TRAINER_ACCUMULATE_GRAD_BATCHES": "2", "PL_TRAINER_GRADIENT_CLIP_ALGORITHM": "value",
     "PL_TRAINER_MAX_STEPS": ""},
]
READ = ("max_steps", "accumulate_grad_batches", "gradient_clip_algorithm", "limit_train_batches")


def _view(trainer) -> dict:
    view = {name: getattr(trainer, name, None) for name in READ} | {"logger": trainer.logger is None}
    if "PL_TRAINER_MAX_EPOCHS" in os.environ:  # unset, it reads differently before fit (not env)
        view["max_epochs"] = trainer.max_epochs
    return view


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_defaults_match_lightning(monkeypatch, env):
    pl = pytest.importorskip("lightning.pytorch")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ours, theirs = st.Trainer(), pl.Trainer(accelerator="cpu")
    assert _view(ours) == _view(theirs)
    explicit = dict(max_steps=42, logger=False)
    assert _view(st.Trainer(**explicit)) == _view(pl.Trainer(accelerator="cpu", **explicit))


def test_a_constructor_flag_wins_and_the_run_uses_the_variable(monkeypatch):
    monkeypatch.setenv("PL_TRAINER_MAX_STEPS", "3")
    monkeypatch.setenv("PL_TRAINER_LOGGER", "True")
    trainer = st.Trainer(**QUIET)
    assert trainer.logger is None  # logger=False given: the variable is only a default
    trainer.fit(Tiny(), loader(n=16))
    assert trainer.global_step == 3


def test_a_subclass_reads_its_own_class_name(monkeypatch):
    class MyTrainer(st.Trainer):
        pass

    monkeypatch.setenv("PL_TRAINER_MAX_STEPS", "5")
    monkeypatch.setenv("PL_MYTRAINER_MAX_STEPS", "9")
    assert MyTrainer().max_steps == 9 and st.Trainer().max_steps == 5


def test_a_bad_value_is_refused_naming_the_flag(monkeypatch):
    monkeypatch.setenv("PL_TRAINER_MAX_EPOCHS", "many")
    with pytest.raises(ValueError, match="max_epochs"):
        st.Trainer()
