"""The stopping matrix: which rule ends fit, with what counters, hooks and stop_reason sentence.

Data: 4 training batches per epoch (8 samples, batch size 2), 2 validation batches.
Every case also runs under Lightning (when installed) and compares global_step, current_epoch,
the batches trained and the hook counts.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

import statetrainer as st
from tests.core.helpers import COUNTED, loader, lightning_run, st_run

GRANTED = "stop requested (trainer.should_stop was set to True); granted"

# id: (flags, module kwargs, global_step, current_epoch, on_train_epoch_end calls, stop_reason)
MATRIX = {
    "max_epochs": (dict(max_epochs=3), {}, 12, 3, 3,
                   "max_epochs=3 reached: 3 epochs completed, global_step=12."),
    "max_steps_mid_epoch": (dict(max_steps=6), {}, 6, 2, 2,
                            "max_steps=6 reached at global_step=6 (epoch 1)."),
    "max_steps_accumulate": (dict(max_steps=3, accumulate_grad_batches=3), {}, 3, 2, 2,
                             "max_steps=3 reached at global_step=3 (epoch 1)."),
    "should_stop_no_min": (dict(max_epochs=10), dict(stop_in="training_step"), 1, 1, 1,
                           f"{GRANTED} at epoch 0, global_step=1."),
    "min_epochs_training_step": (dict(max_epochs=10, min_epochs=3), dict(stop_in="training_step"), 12, 3, 3,
                                 f"{GRANTED} once min_epochs=3 were met at the end of epoch 2, global_step=12."),
    "min_epochs_on_train_batch_end": (dict(max_epochs=10, min_epochs=3), dict(stop_in="on_train_batch_end"),
                                      12, 3, 3, f"{GRANTED} once min_epochs=3 were met at the end of epoch 2, global_step=12."),
    "min_epochs_on_train_epoch_end": (dict(max_epochs=10, min_epochs=3), dict(stop_in="on_train_epoch_end"),
                                      12, 3, 3, f"{GRANTED} once min_epochs=3 were met at the end of epoch 2, global_step=12."),
    "min_epochs_on_validation_end": (dict(max_epochs=10, min_epochs=3), dict(stop_in="on_validation_end"),
                                     12, 3, 3, f"{GRANTED} once min_epochs=3 were met at the end of epoch 2, global_step=12."),
    "min_epochs_on_train_start": (dict(max_epochs=10, min_epochs=2), dict(stop_in="on_train_start"), 8, 2, 2,
                                  f"{GRANTED} once min_epochs=2 were met at the end of epoch 1, global_step=8."),
    "should_stop_on_train_start": (dict(max_epochs=10), dict(stop_in="on_train_start"), 0, 0, 0,
                                   f"{GRANTED} at the start of training, global_step=0."),
    "should_stop_on_fit_start": (dict(max_epochs=10), dict(stop_in="on_fit_start"), 0, 0, 0,
                                 f"{GRANTED} at the start of training, global_step=0."),
    "min_steps": (dict(max_epochs=10, min_steps=6), dict(stop_in="training_step"), 6, 2, 2,
                  f"{GRANTED} once min_steps=6 were met at epoch 1, global_step=6."),
    "min_steps_and_min_epochs_steps_last": (dict(max_epochs=10, min_steps=6, min_epochs=1),
                                            dict(stop_in="training_step"), 6, 2, 2,
                                            f"{GRANTED} once min_epochs=1 and min_steps=6 were met at epoch 1, "
                                            "global_step=6."),
    "min_steps_and_min_epochs_epochs_last": (dict(max_epochs=10, min_steps=2, min_epochs=2),
                                             dict(stop_in="training_step"), 8, 2, 2,
                                             f"{GRANTED} once min_epochs=2 and min_steps=2 were met at the end of "
                                             "epoch 1, global_step=8."),
    "max_epochs_infinite_max_steps": (dict(max_epochs=-1, max_steps=10), {}, 10, 3, 3,
                                      "max_steps=10 reached at global_step=10 (epoch 2)."),
    "max_epochs_zero": (dict(max_epochs=0), {}, 0, 0, 0, "max_epochs=0 reached: 0 epochs completed, global_step=0."),
    "max_steps_zero": (dict(max_steps=0), {}, 0, 0, 0, "max_steps=0 reached at global_step=0 (the start of training)."),
    "minus_one_from_on_train_batch_start": (dict(max_epochs=2), dict(minus_one_at={(0, 1)}), 5, 2, 2,
                                            "max_epochs=2 reached: 2 epochs completed, global_step=5."),
    "limit_train_batches_zero": (dict(max_epochs=2, limit_train_batches=0), {}, 0, 0, 0,
                                 "no training batches (num_training_batches=0)."),
}


@pytest.mark.parametrize("case", list(MATRIX))
def test_stopping_matrix(case):
    flags, module_kwargs, step, epoch, epoch_ends, reason = MATRIX[case]
    trainer, module, counter = st_run(flags, module_kwargs, val=loader(4, 2))
    assert (trainer.global_step, trainer.current_epoch) == (step, epoch)
    assert counter.counts["on_train_epoch_end"] == epoch_ends
    assert trainer.state.stop_reason == reason
    assert trainer.state.status == "finished" and trainer.state.current == "finished"
    assert counter.counts["on_fit_end"] == counter.counts["teardown"] == 1
    assert counter.counts["on_train_end"] == counter.counts["on_train_start"]


@pytest.mark.parametrize("case", list(MATRIX))
def test_stopping_matrix_matches_lightning(case):
    flags, module_kwargs, *_ = MATRIX[case]
    ours, our_module, our_counter = st_run(flags, module_kwargs, val=loader(4, 2))
    theirs, their_module, their_counter = lightning_run(flags, module_kwargs, val=loader(4, 2))
    assert (ours.global_step, ours.current_epoch) == (theirs.global_step, theirs.current_epoch)
    assert our_module.seen == their_module.seen
    assert {h: our_counter.counts[h] for h in COUNTED} == {h: their_counter.counts[h] for h in COUNTED}


def test_minus_one_skips_rest_of_epoch_only():
    trainer, module, counter = st_run(dict(max_epochs=3), dict(minus_one_at={(1, 0)}))
    assert module.seen == [(0, 0), (0, 1), (0, 2), (0, 3), (2, 0), (2, 1), (2, 2), (2, 3)]
    assert counter.counts["on_train_epoch_start"] == counter.counts["on_train_epoch_end"] == 3
    assert counter.counts["on_train_batch_start"] == 9 and counter.counts["on_train_batch_end"] == 8


def _timer(trainer):
    return next(cb for cb in trainer.callbacks if type(cb).__name__ == "Timer")


@pytest.mark.parametrize("value, seconds", [("00:00:00:01", 1.0), ("01:02:03:04", 93784.0),
                                            ({"minutes": 1, "seconds": 30}, 90.0),
                                            (timedelta(milliseconds=250), 0.25)])
def test_max_time_flag_forms(value, seconds):
    trainer = st.Trainer(max_time=value, **{"enable_progress_bar": False, "logger": False})
    assert _timer(trainer).time_remaining("train") == pytest.approx(seconds)
    assert trainer.max_epochs is None  # settled at fit: max_time alone means no epoch limit (Lightning reads None before)


@pytest.mark.parametrize("value", ["1:00", "00:00:00:1x", {"hour": 1}, 5, [1]])
def test_max_time_bad_values_are_refused(value):
    with pytest.raises(st.errors.MisconfigurationError, match=r"max_time|duration") as info:
        st.Trainer(max_time=value)
    assert str(info.value).startswith(f"`max_time` got {value!r}; accepted: ")
    assert isinstance(value, dict) or "'DD:HH:MM:SS'" in str(info.value)


def test_max_time_stops_mid_epoch():
    trainer, module, counter = st_run(dict(max_time=timedelta(microseconds=1), max_epochs=5))
    assert (trainer.global_step, trainer.current_epoch) == (1, 1)
    assert re.fullmatch(r"stop requested \(Timer: max_time=0:00:00\.000001 reached after \d+\.\d\d s of training "
                        r"\(epoch 0, global_step=1\)\); granted at epoch 0, global_step=1\.",
                        trainer.state.stop_reason), trainer.state.stop_reason


def test_max_time_never_before_min_steps():
    trainer, module, counter = st_run(dict(max_time={"microseconds": 1}, min_steps=6, max_epochs=5))
    assert (trainer.global_step, trainer.current_epoch) == (6, 2)
    assert trainer.state.stop_reason.endswith("granted once min_steps=6 were met at epoch 1, global_step=6.")


def test_max_time_never_before_min_epochs():
    trainer, module, counter = st_run(dict(max_time={"microseconds": 1}, min_epochs=2, max_epochs=5))
    assert (trainer.global_step, trainer.current_epoch) == (8, 2)
    assert counter.counts["on_train_epoch_end"] == 2


@pytest.mark.parametrize("flags", [dict(max_time={"microseconds": 1}, min_steps=6, max_epochs=5),
                                   dict(max_time={"microseconds": 1}, max_epochs=5)])
def test_max_time_matches_lightning(flags):
    ours, *_ = st_run(flags)
    theirs, *_ = lightning_run(flags)
    assert (ours.global_step, ours.current_epoch) == (theirs.global_step, theirs.current_epoch)


def test_stop_request_reset_between_fits():
    trainer, module, counter = st_run(dict(max_epochs=10), dict(stop_in="training_step"))
    assert trainer.global_step == 1
    module.stop_in = None
    trainer.fit(module, loader())
    assert trainer.state.stop_reason == "max_epochs=10 reached: 10 epochs completed, global_step=37."


def matrix_rows() -> list[str]:
    """The matrix as the Markdown rows docs/stopping.md shows."""
    rows = []
    for case, (flags, module_kwargs, step, epoch, epoch_ends, reason) in MATRIX.items():
        setting = ", ".join(f"{k}={v!r}" for k, v in flags.items())
        hook = ""
        if "stop_in" in module_kwargs:
            hook = f"should_stop=True in {module_kwargs['stop_in']}"
        elif "minus_one_at" in module_kwargs:
            hook = "-1 from on_train_batch_start at epoch 0, batch 1"
        rows.append(f"| {case} | `{setting}` | {hook or '-'} | {step} | {epoch} | {epoch_ends} | {reason} |")
    return rows


def test_docs_stopping_shows_the_matrix():
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "docs" / "stopping.md").read_text()
    missing = [row for row in matrix_rows() if row not in text]
    assert not missing, "docs/stopping.md is missing these rows of the matrix:\n" + "\n".join(missing)
