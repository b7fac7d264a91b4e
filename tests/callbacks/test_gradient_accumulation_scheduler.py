"""GradientAccumulationScheduler: factors by epoch, through the callback and through the Trainer flag."""
from __future__ import annotations

import re

import pytest

from statetrainer.callbacks.gradient_accumulation_scheduler import GradientAccumulationScheduler
from statetrainer.errors import MisconfigurationError
import statetrainer as st
from tests.checkpoint.helpers import QUIET, Net, fit, loaders


def test_lookup_fills_epoch_zero():
    scheduler = GradientAccumulationScheduler({2: 4, 5: 2})
    assert [scheduler.get_accumulate_grad_batches(e) for e in range(7)] == [1, 1, 4, 4, 4, 2, 2]
    assert scheduler.going_to_accumulate_grad_batches()


@pytest.mark.parametrize("scheduling, accepted", [
    ({}, "a non-empty dict"), ({-1: 2}, "epochs (keys) that are ints >= 0"),
    ({0: 0}, "accumulation factors (values) that are ints >= 1"), ({"1": 2}, "epochs (keys)"),
])
def test_bad_schedules(scheduling, accepted):
    with pytest.raises(MisconfigurationError, match=re.escape(f"accepted: {accepted}")):
        GradientAccumulationScheduler(scheduling)


@pytest.mark.parametrize("how", ["callback", "flag"])
def test_steps_per_epoch_follow_the_schedule(tmp_path, how):
    # 10 batches per epoch: factor 1, then 3 (4 steps, the last one on the 10th batch), then 2
    schedule = {0: 1, 1: 3, 2: 2}
    extra = dict(callbacks=[GradientAccumulationScheduler(schedule)]) if how == "callback" else dict(
        accumulate_grad_batches=schedule)
    _, trainer = fit(tmp_path, max_epochs=3, enable_checkpointing=False, **extra)
    assert trainer.global_step == 10 + 4 + 5


def test_refused_with_an_integer_flag_or_manual_optimization(tmp_path):
    with pytest.raises(MisconfigurationError, match=r"`accumulate_grad_batches` got 2 together with a "):
        fit(tmp_path, max_epochs=1, accumulate_grad_batches=2, callbacks=[GradientAccumulationScheduler({1: 2})])

    class Manual(Net):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            optimizer = self.optimizers()
            loss = super().training_step(batch, batch_idx)
            self.manual_backward(loss)
            optimizer.step()
            optimizer.zero_grad()

    with pytest.raises(MisconfigurationError, match=r"automatic_optimization=False"):
        fit(tmp_path, model=Manual(), max_epochs=1, callbacks=[GradientAccumulationScheduler({1: 2})])


def test_refused_when_the_integer_flag_equals_the_schedules_factor(tmp_path):
    # Lightning refuses any int flag other than 1 next to a scheduler, even one asking for the same factor
    with pytest.raises(MisconfigurationError, match=r"`accumulate_grad_batches` got 2 together with a "):
        fit(tmp_path, max_epochs=1, accumulate_grad_batches=2, callbacks=[GradientAccumulationScheduler({0: 2})])


def test_fitting_again_after_an_interrupt_is_not_refused(tmp_path):
    # the schedule the callback set in the interrupted fit is not taken for a conflicting flag
    class InterruptOnce(st.Callback):
        def __init__(self):
            self.armed = True

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if self.armed:
                self.armed = False
                raise KeyboardInterrupt

    trainer = st.Trainer(default_root_dir=str(tmp_path), max_epochs=1, enable_checkpointing=False,
                         callbacks=[GradientAccumulationScheduler({0: 2}), InterruptOnce()], **QUIET)
    model = Net()
    trainer.fit(model, *loaders())
    assert trainer.interrupted
    trainer.fit(model, *loaders())
    assert not trainer.interrupted and trainer.accumulation_schedule == {0: 2}
