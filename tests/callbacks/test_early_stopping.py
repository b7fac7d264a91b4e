"""EarlyStopping: when fit stops, why (state.stop_reason), min_epochs/min_steps, state, and Lightning parity."""
from __future__ import annotations

import math

import pytest
import torch

import statetrainer as st
from statetrainer.callbacks.early_stopping import EarlyStopping, EarlyStoppingReason
from statetrainer.errors import MisconfigurationError
from tests.checkpoint.helpers import Scripted, fit
from tests.checkpoint.twin import run_lightning, run_ours

NAN = math.nan


def _outcome(trainer, callback) -> dict:
    return {"epoch": trainer.current_epoch, "step": trainer.global_step, "stopped_epoch": callback.stopped_epoch,
            "wait_count": callback.wait_count, "best_score": round(float(callback.best_score), 6),
            "reason": callback.stopping_reason.value, "has_message": callback.stopping_reason_message is not None}


PARITY = {
    "patience_2": ([5, 4, 4.5, 4.2, 3, 2, 1, 0], dict(patience=2), {}),
    "min_delta": ([5, 4.8, 4.6, 4.4, 3, 2, 1, 0], dict(patience=2, min_delta=0.5), {}),
    "max_mode": ([1, 2, 2.5, 2.4, 2.6, 2.0, 1.9, 1.8], dict(mode="max", patience=2), {}),
    "stopping_threshold": ([5, 3, 1.9, 1, 0, 0, 0, 0], dict(stopping_threshold=2.0, patience=9), {}),
    "divergence": ([5, 4, 11, 1, 0, 0, 0, 0], dict(divergence_threshold=10.0, patience=9), {}),
    "non_finite": ([3, 2, NAN, 1, 0, 0, 0, 0], dict(patience=9), {}),
    "non_finite_ignored": ([3, 2, NAN, 1, 2, 3, 4, 5], dict(patience=2, check_finite=False), {}),
    "min_epochs_delays": ([5, 6, 7, 8, 9, 10, 11, 12], dict(patience=1), dict(min_epochs=4)),
    "min_epochs_reevaluated": ([5, 6, 4, 3, 2, 1, 0, -1], dict(patience=1), dict(min_epochs=3)),
    "min_steps_delays": ([5, 6, 7, 8, 9, 10, 11, 12], dict(patience=1), dict(min_steps=45)),
    "in_epoch_checks": ([5, 4, 6, 7, 3, 2, 1, 0], dict(patience=2), dict(val_check_interval=0.5)),
    "on_val_end_every_2": ([5, 6, 7, 8, 9, 1, 1, 1], dict(patience=2), dict(check_val_every_n_epoch=2)),
    "patience_0": ([5, 4, 3, 2, 1, 0, 0, 0], dict(patience=0), {}),
}


@pytest.mark.parametrize("case", sorted(PARITY))
def test_same_stop_as_lightning(tmp_path, case):
    callbacks = pytest.importorskip("lightning.pytorch.callbacks")
    values, options, flags = PARITY[case]
    flags = {"max_epochs": 8, "enable_checkpointing": False, **flags}
    ours, theirs = EarlyStopping("val_loss", **options), callbacks.EarlyStopping("val_loss", **options)
    trainer = run_ours(tmp_path / "o", values, [ours], **flags)
    reference = run_lightning(tmp_path / "l", values, [theirs], **flags)
    assert _outcome(trainer, ours) == _outcome(reference, theirs)


# ---------------------------------------------------------------- reasons


@pytest.mark.parametrize("values, options, reason", [
    ([5, 4, 4.5, 4.2, 3], dict(patience=2),
     "EarlyStopping: patience exhausted: val_loss did not improve on 4 (min_delta=0.0, mode=min) in 2 checks, "
     "last value 4.2"),
    ([5, 3, 1.5, 1], dict(stopping_threshold=2.0),
     "EarlyStopping: Stopping threshold reached: val_loss = 1.5 < 2.0"),
    ([5, 4, 11, 1], dict(divergence_threshold=10.0),
     "EarlyStopping: Divergence threshold reached: val_loss = 11 > 10.0"),
    ([3, 2, NAN, 1], dict(patience=9),
     "EarlyStopping: val_loss = nan is not finite (best was 2) after 0 checks without improvement"),
])
def test_stop_reason_names_the_rule_and_the_numbers(tmp_path, values, options, reason):
    callback = EarlyStopping("val_loss", **options)
    _, trainer = fit(tmp_path, model=Scripted(values), callbacks=[callback], max_epochs=8, enable_checkpointing=False)
    assert reason in trainer.state.stop_reason
    assert trainer.current_epoch == callback.stopped_epoch + 1


def test_missing_monitor_names_the_logged_keys(tmp_path):
    with pytest.raises(MisconfigurationError) as info:
        fit(tmp_path, model=Scripted([1.0]), callbacks=[EarlyStopping("val_acc")], max_epochs=2)
    assert str(info.value) == ("Early stopping conditioned on metric `val_acc` which is not available; logged "
                               "metrics: `val_loss`. Log it with self.log('val_acc', ...) or pass strict=False.")


def test_not_strict_missing_monitor_never_stops(tmp_path):
    _, trainer = fit(tmp_path, model=Scripted([1.0]), callbacks=[EarlyStopping("val_acc", strict=False)],
                     max_epochs=3, enable_checkpointing=False)
    assert trainer.current_epoch == 3 and trainer.state.stop_reason.startswith("max_epochs=3 reached")


@pytest.mark.parametrize("kwargs, message", [
    (dict(mode="median"), r"`EarlyStopping\(mode\)` got 'median'; accepted: 'min' or 'max'"),
    (dict(patience=-1), r"`EarlyStopping\(patience\)` got -1; accepted: an int >= 0"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(MisconfigurationError, match=message):
        EarlyStopping("val_loss", **kwargs)


def test_state_round_trip_and_key():
    callback = EarlyStopping("val_loss", mode="max", patience=4)
    callback.wait_count, callback.best_score, callback.stopped_epoch = 2, torch.tensor(0.75), 5
    other = EarlyStopping("val_loss", mode="max", patience=4)
    other.load_state_dict(callback.state_dict())
    assert (other.wait_count, float(other.best_score), other.stopped_epoch) == (2, 0.75, 5)
    assert callback.state_key == "EarlyStopping{'monitor': 'val_loss', 'mode': 'max'}"


def test_reason_enum_has_lightnings_members_and_values():
    lightning_es = pytest.importorskip("lightning.pytorch.callbacks.early_stopping")
    assert {r.name: r.value for r in EarlyStoppingReason} == \
        {r.name: r.value for r in lightning_es.EarlyStoppingReason}


def test_reason_round_trips_as_its_int_value_and_old_states_load():
    callback = EarlyStopping("val_loss")
    assert callback.stopping_reason is EarlyStoppingReason.NOT_STOPPED and callback.stopping_reason_message is None
    callback.stopping_reason = EarlyStoppingReason.DIVERGENCE_THRESHOLD
    callback.stopping_reason_message = "Divergence threshold reached: val_loss = 11 > 10.0"
    state = callback.state_dict()
    assert state["stopping_reason"] == 2
    other = EarlyStopping("val_loss")
    other.load_state_dict(state)
    assert other.stopping_reason is EarlyStoppingReason.DIVERGENCE_THRESHOLD
    assert other.stopping_reason_message == callback.stopping_reason_message
    old = {"wait_count": 1, "stopped_epoch": 0, "best_score": torch.tensor(1.0), "patience": 3}
    other.load_state_dict(dict(old))  # a state written before the reason existed
    assert other.stopping_reason is EarlyStoppingReason.NOT_STOPPED and other.stopping_reason_message is None
    other.load_state_dict({**old, "stopping_reason": "patience_exhausted"})  # statetrainer 0.1's form
    assert other.stopping_reason is EarlyStoppingReason.PATIENCE_EXHAUSTED


@pytest.mark.parametrize("values, options, reason", [
    ([5, 4, 4.5, 4.2, 3], dict(patience=2), EarlyStoppingReason.PATIENCE_EXHAUSTED),
    ([5, 3, 1.5, 1], dict(stopping_threshold=2.0), EarlyStoppingReason.STOPPING_THRESHOLD),
    ([5, 4, 11, 1], dict(divergence_threshold=10.0), EarlyStoppingReason.DIVERGENCE_THRESHOLD),
    ([3, 2, NAN, 1], dict(patience=9), EarlyStoppingReason.NON_FINITE_METRIC),
    ([3, 2, 1, 0], dict(patience=9), EarlyStoppingReason.NOT_STOPPED),
])
def test_stopping_reason_after_fit(tmp_path, values, options, reason):
    callback = EarlyStopping("val_loss", **options)
    fit(tmp_path, model=Scripted(values), callbacks=[callback], max_epochs=4, enable_checkpointing=False)
    assert callback.stopping_reason is reason
    assert (callback.stopping_reason_message is None) == (reason is EarlyStoppingReason.NOT_STOPPED)


def test_patience_counts_across_a_resume(tmp_path):
    values = [5, 4, 4.5, 4.6, 4.7, 4.8]
    first = EarlyStopping("val_loss", patience=3)
    saver = st.callbacks.ModelCheckpoint(dirpath=tmp_path / "ck", save_last=True)
    fit(tmp_path, model=Scripted(values), callbacks=[first, saver], max_epochs=3)
    assert first.wait_count == 1
    second = EarlyStopping("val_loss", patience=3)
    module = Scripted(values)
    module.runs = 3
    _, trainer = fit(tmp_path, model=module, callbacks=[second, st.callbacks.ModelCheckpoint(dirpath=tmp_path / "ck")],
                     max_epochs=8, ckpt_path=str(tmp_path / "ck" / "last.ckpt"))
    # 4.6 and 4.7 make three checks in a row without improving on 4: stop after epoch 4, not epoch 6
    assert (second.stopped_epoch, trainer.current_epoch, second.wait_count) == (4, 5, 3)


class _Flat(st.StateModule):
    """A metric that never improves: EarlyStopping(patience=3) stops in the fourth epoch (index 3)."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.log("flat", 1.0, prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.parametrize("on_train_epoch_end", [True, False])
def test_the_bar_stop_reason_and_stopped_epoch_name_the_same_epoch(capsys, on_train_epoch_end):
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=4)
    stopper = EarlyStopping("flat", patience=3, check_on_train_epoch_end=on_train_epoch_end)
    trainer = st.Trainer(max_epochs=20, callbacks=[stopper], logger=False, enable_checkpointing=False,
                         enable_model_summary=False)
    trainer.fit(_Flat(), loader, loader)
    lines = capsys.readouterr().out.splitlines()
    last_bar = [line for line in lines if line.startswith("Epoch ")][-1]
    assert last_bar.startswith("Epoch 3: 100%")
    assert stopper.stopped_epoch == 3 and trainer.current_epoch == 4
    where = "the end of epoch 3" if on_train_epoch_end else "epoch 3"  # after the epoch / inside it
    assert trainer.state.stop_reason.endswith(f"granted at {where}, global_step=8.")
    assert lines[-1].startswith(f"Fit ended: {trainer.state.stop_reason} | ")
