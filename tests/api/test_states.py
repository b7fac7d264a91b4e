"""trainer.state.fn / .status / .stage as Lightning's enums, and state.finished / state.stopped."""
from __future__ import annotations

import pytest

import statetrainer as st
from statetrainer.trainer.states import RunningStage, TrainerFn, TrainerState, TrainerStatus
from tests.core.helpers import QUIET, Tiny, lightning, loader, tiny_class

ENUMS = ("TrainerFn", "TrainerStatus", "RunningStage")


@pytest.mark.parametrize("name", ENUMS)
def test_members_and_values_match_lightning(name):
    states = pytest.importorskip("lightning.pytorch.trainer.states")
    ours = {m.name: m.value for m in getattr(st.trainer.states, name)}
    theirs = {m.name: m.value for m in getattr(states, name)}
    ours.pop("TUNING", None)  # statetrainer's tuner calls (Lightning 1.x had them)
    assert ours == theirs


def test_members_are_strings_equal_to_their_values():
    assert TrainerFn.FITTING == "fit" and "fit" == TrainerFn.FITTING and TrainerFn.FITTING != "test"
    assert TrainerFn.FITTING == "FIT" and not TrainerFn.FITTING != "FIT"  # case-insensitive, as Lightning
    assert isinstance(TrainerFn.FITTING, str) and TrainerFn("fit") is TrainerFn.FITTING
    assert {"fit": 1}[TrainerFn.FITTING] == 1 and {TrainerFn.FITTING: 2}["fit"] == 2
    assert str(RunningStage.SANITY_CHECKING) == "sanity_check" and f"{TrainerFn.TESTING}-x" == "test-x"
    assert RunningStage.VALIDATING == TrainerFn.VALIDATING


def test_stage_and_status_properties_match_lightning():
    states = pytest.importorskip("lightning.pytorch.trainer.states")
    for stage in states.RunningStage:
        ours = RunningStage(stage.value)
        assert (ours.evaluating, ours.dataloader_prefix) == (stage.evaluating, stage.dataloader_prefix)
    for status in states.TrainerStatus:
        assert TrainerStatus(status.value).stopped == status.stopped


class _Record(st.Callback):
    def __init__(self):
        self.seen = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        s = trainer.state
        self.seen.append((type(s.fn).__name__, s.fn.value, type(s.stage).__name__, s.stage.value,
                          type(s.status).__name__, s.status.value, s.finished, s.stopped))


def test_state_during_and_after_fit():
    rec = _Record()
    trainer = st.Trainer(max_epochs=1, limit_train_batches=1, callbacks=[rec], **QUIET)
    assert (trainer.state.fn, trainer.state.status, trainer.state.stage) == (None, TrainerStatus.INITIALIZING, None)
    assert not trainer.state.finished and not trainer.state.stopped
    trainer.fit(Tiny(), loader(), loader())
    assert rec.seen == [("TrainerFn", "fit", "RunningStage", "train", "TrainerStatus", "running", False, False)]
    assert trainer.state.fn is TrainerFn.FITTING and trainer.state.status is TrainerStatus.FINISHED
    assert trainer.state.finished and trainer.state.stopped and trainer.state.stage is None
    assert isinstance(trainer.state, TrainerState)


def test_after_an_exception_state_is_stopped_not_finished():
    class Boom(Tiny):
        def training_step(self, batch, batch_idx):
            raise RuntimeError("boom")

    trainer = st.Trainer(max_epochs=1, **QUIET)
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(Boom(), loader())
    assert trainer.state.status == "interrupted" and trainer.state.status is TrainerStatus.INTERRUPTED
    assert trainer.state.stopped and not trainer.state.finished


def test_finished_and_stopped_match_lightning_after_validate():
    pl = lightning()
    theirs = pl.Trainer(**QUIET, accelerator="cpu")
    theirs.validate(tiny_class(pl.LightningModule)(), loader(), verbose=False)
    ours = st.Trainer(**QUIET)
    ours.validate(Tiny(), loader(), verbose=False)
    pick = lambda s: (s.fn.value, s.status.value, s.stage, s.finished, s.stopped)  # noqa: E731
    assert pick(ours.state) == pick(theirs.state)
