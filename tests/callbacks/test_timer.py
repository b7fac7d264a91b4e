"""Timer: duration parsing, time per stage, the max_time stop and its reason, time carried across resume."""
from __future__ import annotations

import types
from datetime import timedelta

import pytest

import statetrainer as st
from statetrainer.callbacks import timer as timer_module
from statetrainer.callbacks.timer import Timer, parse_duration
from statetrainer.errors import MisconfigurationError
from tests.checkpoint.helpers import fit


@pytest.mark.parametrize("given, seconds", [
    ("00:12:00:00", 12 * 3600), ("01:00:00:05", 86405), (" 00:00:01:30 ", 90), ("10:00:00:00", 864000),
    ({"minutes": 2, "seconds": 3}, 123), ({"weeks": 1}, 604800), (timedelta(hours=1), 3600),
])
def test_durations(given, seconds):
    assert parse_duration(given).total_seconds() == seconds


@pytest.mark.parametrize("given, accepted", [
    ("12:00:00", "a string 'DD:HH:MM:SS'"), ("00:1:00:00", "a string 'DD:HH:MM:SS'"),
    ({"hour": 1}, "a dict with keys among weeks, days, hours"), ({"hours": "x"}, "a dict of numbers"),
    (3600, "a string 'DD:HH:MM:SS', a dict of timedelta arguments or a timedelta"),
])
def test_bad_durations_name_the_value_and_the_formats(given, accepted):
    with pytest.raises(MisconfigurationError) as info:
        Timer(duration=given)
    assert str(info.value).startswith(f"`Timer(duration)` got {given!r}; accepted: {accepted}")


def test_bad_interval():
    with pytest.raises(MisconfigurationError, match=r"`Timer\(interval\)` got 'batch'; accepted: 'step' or 'epoch'"):
        Timer(interval="batch")


class _Clock:
    """A fake time.monotonic: every training batch takes `per_batch` seconds."""

    def __init__(self, monkeypatch, per_batch: float):
        self.now, self.per_batch = 1000.0, per_batch
        monkeypatch.setattr(timer_module, "time", types.SimpleNamespace(monotonic=lambda: self.now))

    def callback(self) -> st.Callback:
        clock = self

        class Tick(st.Callback):
            def on_train_batch_start(self, trainer, module, batch, batch_idx):
                clock.now += clock.per_batch
        return Tick()


def test_max_time_stops_mid_epoch_with_its_reason(tmp_path, monkeypatch):
    clock = _Clock(monkeypatch, per_batch=1.0)
    _, trainer = fit(tmp_path, callbacks=[clock.callback()], max_epochs=5, max_time={"seconds": 13},
                     enable_checkpointing=False)
    assert trainer.global_step == 13 and trainer.current_epoch == 2  # a stopped epoch still counts (Lightning)
    assert "Timer: max_time=0:00:13 reached after 13.00 s of training (epoch 1, global_step=13)" in \
        trainer.state.stop_reason


def test_epoch_interval_waits_for_the_epoch_end(tmp_path, monkeypatch):
    clock = _Clock(monkeypatch, per_batch=1.0)
    timer = Timer(duration={"seconds": 13}, interval="epoch")
    _, trainer = fit(tmp_path, callbacks=[clock.callback(), timer], max_epochs=5, enable_checkpointing=False)
    assert trainer.global_step == 20
    assert timer.time_elapsed("train") == 20.0 and timer.time_remaining("train") == -7.0


def test_min_epochs_hold_against_max_time(tmp_path, monkeypatch):
    clock = _Clock(monkeypatch, per_batch=1.0)
    _, trainer = fit(tmp_path, callbacks=[clock.callback()], max_epochs=5, min_epochs=2, max_time={"seconds": 3},
                     enable_checkpointing=False)
    assert trainer.current_epoch == 2 and trainer.global_step == 20


def test_time_per_stage(tmp_path, monkeypatch):
    clock = _Clock(monkeypatch, per_batch=2.0)
    timer = Timer()
    fit(tmp_path, callbacks=[clock.callback(), timer], max_epochs=1, enable_checkpointing=False)
    assert timer.time_elapsed("train") == 20.0 and timer.time_elapsed("validate") == 0.0
    assert timer.time_remaining() is None and timer.start_time("test") is None
    with pytest.raises(MisconfigurationError, match=r"`stage` got 'training'; accepted: 'train', 'sanity_check'"):
        timer.time_elapsed("training")


def test_resumed_fit_counts_the_time_already_spent(tmp_path, monkeypatch):
    clock = _Clock(monkeypatch, per_batch=1.0)
    saver = st.callbacks.ModelCheckpoint(dirpath=tmp_path / "ck", every_n_train_steps=6, save_last=True)
    fit(tmp_path, callbacks=[clock.callback(), Timer(duration={"seconds": 100}), saver], max_epochs=1)
    timer = Timer(duration={"seconds": 15})
    _, trainer = fit(tmp_path, callbacks=[clock.callback(), timer], max_epochs=5,
                     ckpt_path=str(tmp_path / "ck" / "epoch=0-step=6.ckpt"))
    # 6 s spent before the checkpoint, 9 more after it
    assert trainer.global_step == 15 and timer.time_elapsed("train") == 15.0
    assert timer.state_dict()["time_elapsed"]["train"] == 15.0


class _ValidationTick(st.Callback):
    """Every validation batch takes 0.5 s on the fake clock."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock

    def on_validation_batch_start(self, trainer, module, batch, batch_idx, dataloader_idx=0):
        self.clock.now += 0.5


def test_the_sanity_check_counts_as_validation_time(tmp_path, monkeypatch):
    """Lightning's Timer times every validation run under 'validate', the sanity check too: a fit that stops
    before its first validation still reports the sanity check's time there."""
    clock = _Clock(monkeypatch, per_batch=1.0)
    timer = Timer()
    fit(tmp_path, callbacks=[clock.callback(), _ValidationTick(clock), timer], max_steps=3,
        num_sanity_val_steps=2, enable_checkpointing=False)
    assert timer.time_elapsed("validate") == timer.time_elapsed("sanity_check") == 1.0
    assert timer.time_elapsed("train") == 3.0


def test_validate_is_the_last_validation_run(tmp_path, monkeypatch):
    clock = _Clock(monkeypatch, per_batch=1.0)
    timer = Timer()
    fit(tmp_path, callbacks=[clock.callback(), _ValidationTick(clock), timer], max_epochs=1,
        num_sanity_val_steps=1, limit_val_batches=2, enable_checkpointing=False)
    assert timer.time_elapsed("sanity_check") == 0.5 and timer.time_elapsed("validate") == 1.0
