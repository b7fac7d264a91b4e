"""Ctrl-C or SIGTERM during fit: status "interrupted", on_exception called, last.ckpt of the last completed step
written, and fit(ckpt_path="last") continuing from it to the uninterrupted run's weights."""
from __future__ import annotations

import os
import signal

import pytest

import statetrainer as st
from statetrainer.checkpoint import io
from tests.checkpoint.helpers import fit, same_weights


class Interrupt(st.Callback):
    """Raises KeyboardInterrupt (or sends this process SIGTERM) at one hook, at one global step."""

    def __init__(self, hook: str, step: int, how: str = "ctrl-c"):
        self.hook, self.step, self.how, self.seen = hook, step, how, []

    def _maybe(self, trainer, hook):
        if hook == self.hook and trainer.global_step == self.step and not trainer.sanity_checking:
            if self.how == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
            else:
                raise KeyboardInterrupt

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self._maybe(trainer, "on_train_batch_start")

    def on_before_backward(self, trainer, module, loss):
        self._maybe(trainer, "on_before_backward")

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self._maybe(trainer, "on_train_batch_end")

    def on_validation_batch_start(self, trainer, module, batch, batch_idx, dataloader_idx=0):
        self._maybe(trainer, "on_validation_batch_start")

    def on_exception(self, trainer, module, exception):
        self.seen.append(type(exception).__name__)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    model, _ = fit(tmp_path_factory.mktemp("whole"))
    return model


POINTS = [("on_train_batch_start", 14, "ctrl-c", 14), ("on_before_backward", 14, "ctrl-c", 14),
          ("on_train_batch_end", 15, "ctrl-c", 15), ("on_validation_batch_start", 20, "ctrl-c", 20),
          ("on_train_batch_start", 23, "sigterm", 24)]  # a signal is honoured once the batch it landed in ends



def test_interrupt_writes_last_of_the_last_completed_step(tmp_path):
    interrupt = Interrupt("on_train_batch_start", 14)
    saver = st.callbacks.ModelCheckpoint(dirpath=tmp_path / "ck")
    _, trainer = fit(tmp_path, callbacks=[interrupt, saver])
    assert trainer.interrupted and trainer.state.status == "interrupted" and interrupt.seen == ["KeyboardInterrupt"]
    checkpoint = io.load(tmp_path / "ck" / "last.ckpt")
    assert (checkpoint["global_step"], checkpoint["epoch"]) == (14, 1)
    assert saver.last_model_path == str(tmp_path / "ck" / "last.ckpt")


@pytest.mark.parametrize("hook, step, how, saved_step", POINTS, ids=[f"{h}-{s}-{w}" for h, s, w, _ in POINTS])
def test_interrupt_writes_last_and_resume_matches(tmp_path, reference, hook, step, how, saved_step):
    interrupt = Interrupt(hook, step, how)
    saver = st.callbacks.ModelCheckpoint(dirpath=tmp_path / "ck")  # checkpointing on, save_last off
    model, trainer = fit(tmp_path, callbacks=[interrupt, saver])
    assert trainer.interrupted and trainer.state.status == "interrupted"
    expected = "SignalInterrupt" if how == "sigterm" else "KeyboardInterrupt"
    assert interrupt.seen == [expected]
    assert trainer.state.stop_reason.startswith(f"interrupted by {expected}")
    assert io.load(tmp_path / "ck" / "last.ckpt")["global_step"] == saved_step == trainer.global_step
    resumed, again = fit(tmp_path / "resume", callbacks=[st.callbacks.ModelCheckpoint(dirpath=tmp_path / "ck")],
                         ckpt_path="last")
    assert again.global_step == 30
    if hook != "on_before_backward":
        assert same_weights(resumed, reference)
    # Interrupted inside a batch (after its forward, before its step): resume re-runs that whole batch from
    # the last completed step, but the random draws the interrupted forward made (dropout) are not replayed,
    # so the weights are not bit-identical (docs/checkpoints.md, "Interruptions").


def test_no_checkpoint_when_checkpointing_is_off(tmp_path):
    _, trainer = fit(tmp_path, callbacks=[Interrupt("on_train_batch_start", 5)], enable_checkpointing=False)
    assert trainer.interrupted and not any(name.endswith(".ckpt") for _, _, names in os.walk(tmp_path)
                                           for name in names)


def test_interrupt_before_any_step_writes_nothing(tmp_path):
    _, trainer = fit(tmp_path, callbacks=[Interrupt("on_train_batch_start", 0),
                                          st.callbacks.ModelCheckpoint(dirpath=tmp_path / "ck")])
    assert trainer.interrupted and not os.path.exists(tmp_path / "ck" / "last.ckpt")


def test_save_last_already_at_this_step_is_not_rewritten(tmp_path):
    saver = st.callbacks.ModelCheckpoint(dirpath=tmp_path / "ck", every_n_train_steps=5, save_last=True)
    _, trainer = fit(tmp_path, callbacks=[Interrupt("on_train_batch_start", 15), saver])
    assert trainer.global_step == 15 and io.load(tmp_path / "ck" / "last.ckpt")["global_step"] == 15
    assert sorted(os.listdir(tmp_path / "ck")) == ["epoch=1-step=15.ckpt", "last.ckpt"]


class _Order(st.Callback):
    def __init__(self, calls: list) -> None:
        self.calls = calls

    def on_exception(self, trainer, module, exception):
        self.calls.append(("callback.on_exception", type(exception).__name__))

    def teardown(self, trainer, module, stage):
        self.calls.append(("callback.teardown", stage))


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_the_strategy_hears_of_an_interrupt_after_the_callbacks(tmp_path, monkeypatch, how):
    """Lightning calls strategy.on_exception on Ctrl-C too; the fit still ends gracefully (no SystemExit)."""
    calls = []
    monkeypatch.setattr(st.strategies.Strategy, "on_exception",
                        lambda self, exc: calls.append(("strategy.on_exception", type(exc).__name__)))
    _, trainer = fit(tmp_path, callbacks=[Interrupt("on_train_batch_start", 3, how), _Order(calls)],
                     enable_checkpointing=False)
    assert trainer.interrupted
    name = "KeyboardInterrupt" if how == "ctrl-c" else "SignalInterrupt"
    assert calls == [("callback.on_exception", name), ("strategy.on_exception", name), ("callback.teardown", "fit")]
