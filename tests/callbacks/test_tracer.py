"""SignalTracer: receivers on every signal of one trainer, the line format, filters, and a real fit."""
from __future__ import annotations

import io
import re
from types import SimpleNamespace

import pytest
import torch

from statetrainer import signals
from statetrainer.callbacks.tracer import SignalTracer, TraceEvent
from statetrainer.errors import MisconfigurationError


class FakeTrainer:
    def __init__(self, state="train_batch", epoch=0, step=0):
        self.state = SimpleNamespace(current=state)
        self.current_epoch = epoch
        self.global_step = step


def test_records_state_signal_epoch_step_and_prints_each_line():
    out = io.StringIO()
    trainer = FakeTrainer(epoch=1, step=7)
    with SignalTracer(file=out).watching(trainer) as tracer:
        signals.on_train_batch_end.send(trainer, outputs=None, batch=None, batch_idx=3)
        trainer.state.current = "teardown"
        signals.teardown.send(trainer, stage="fit")
    assert tracer.lines() == ["state=train_batch signal=on_train_batch_end epoch=1 step=7 batch_idx=3",
                              "state=teardown signal=teardown epoch=1 step=7 stage=fit"]
    assert out.getvalue().splitlines() == tracer.lines()
    assert tracer.events[0] == TraceEvent("train_batch", "on_train_batch_end", 1, 7, (("batch_idx", 3),))


def test_only_the_watched_trainer_is_traced_and_watching_detaches():
    watched, other = FakeTrainer(), FakeTrainer()
    tracer = SignalTracer(echo=False)
    with tracer.watching(watched):
        signals.on_train_start.send(other)
        signals.on_train_start.send(watched)
    signals.on_train_start.send(watched)
    assert tracer.lines() == ["state=train_batch signal=on_train_start epoch=0 step=0"]
    assert not any(signal.receivers for signal in signals.CATALOGUE.values())


def test_selecting_and_excluding_signals():
    tracer = SignalTracer(signals=["on_fit_start", signals.on_train_batch_start, "on_train_end"],
                          exclude=["on_train_end"], echo=False)
    assert tracer.signal_names == ("on_fit_start", "on_train_batch_start")
    no_batches = SignalTracer(exclude=SignalTracer.PER_BATCH, echo=False)
    assert "on_train_epoch_start" in no_batches.signal_names
    assert not {"on_train_batch_end", "training_step", "backward", "optimizer_step",
                "on_before_batch_transfer"} & set(no_batches.signal_names)
    assert len(SignalTracer(echo=False).signal_names) == len(signals.CATALOGUE)
    with pytest.raises(MisconfigurationError, match=r"signal 'on_batch_end' does not exist; accepted: "):
        SignalTracer(signals=["on_batch_end"])


def test_keep_bounds_the_memory_and_clear_empties_it():
    trainer = FakeTrainer()
    tracer = SignalTracer(echo=False, keep=2).attach(trainer)
    for step in range(5):
        trainer.global_step = step
        signals.on_after_backward.send(trainer)
    tracer.detach(trainer)
    assert [event.step for event in tracer.events] == [3, 4]
    tracer.clear()
    assert tracer.lines() == []


def _fit_with_tracer(tracer, as_callback):
    import statetrainer as st
    from torch.utils.data import DataLoader, TensorDataset

    from tests.tiny import Tiny
    data = TensorDataset(torch.randn(8, 2))
    trainer = st.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=1, num_sanity_val_steps=1,
                         callbacks=[tracer] if as_callback else [])
    if as_callback:
        trainer.fit(Tiny(), DataLoader(data, batch_size=4), DataLoader(data, batch_size=4))
    else:
        with tracer.watching(trainer):
            trainer.fit(Tiny(), DataLoader(data, batch_size=4), DataLoader(data, batch_size=4))
    return trainer


def test_a_real_fit_traced_without_batch_signals():
    tracer = SignalTracer(exclude=SignalTracer.PER_BATCH, echo=False)
    _fit_with_tracer(tracer, as_callback=False)
    lines = tracer.lines()
    assert all(re.fullmatch(r"state=\w+ signal=\w+ epoch=\d+ step=\d+( stage=\w+)?", line) for line in lines)
    names = [event.signal for event in tracer.events]
    expected_order = ["setup", "on_fit_start", "on_sanity_check_start", "on_validation_start", "on_validation_end",
                      "on_sanity_check_end", "on_train_start", "on_train_epoch_start", "on_validation_start",
                      "on_validation_end", "on_train_epoch_end", "on_train_end", "on_fit_end", "teardown"]
    assert [name for name in names if name in expected_order] == expected_order
    by_signal = {event.signal: event for event in tracer.events}
    assert str(by_signal["teardown"]).endswith("signal=teardown epoch=1 step=2 stage=fit")
    assert by_signal["on_train_epoch_end"].step == 2 and by_signal["on_train_epoch_start"].step == 0
    assert len({event.state for event in tracer.events}) >= 5  # the machine moved through its states


def test_as_a_callback_it_traces_from_setup_and_counts_steps_per_batch():
    tracer = SignalTracer(signals=["setup", "on_train_batch_end", "teardown"], echo=False)
    _fit_with_tracer(tracer, as_callback=True)
    assert [(event.signal, event.step) for event in tracer.events] == [
        ("setup", 0), ("on_train_batch_end", 1), ("on_train_batch_end", 2), ("teardown", 2)]
    assert [dict(event.details).get("batch_idx") for event in tracer.events] == [None, 0, 1, None]
