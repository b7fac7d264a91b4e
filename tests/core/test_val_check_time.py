"""Time-based val_check_interval ('DD:HH:MM:SS', a dict of timedelta arguments, a timedelta), differential
with Lightning under the same fake clock: when validation runs, and how often the clock is read."""
from __future__ import annotations

import warnings
from datetime import timedelta
from unittest.mock import patch

import pytest

import statetrainer as st
from statetrainer.errors import MisconfigurationError
from tests.core.helpers import QUIET
from tests.core.test_combined_loaders import _ints, _lib, recorder_class


def _validations(lib, every, interval, per_epoch, tick=1, sanity=2, flags=None):
    """(epoch and global_step of every validation in fit, number of clock readings)."""
    trainer_cls, base, _ = _lib(lib)
    clock = {"now": 0}

    def monotonic():
        clock["now"] += tick
        return clock["now"]

    class Module(recorder_class(base)):
        def on_validation_epoch_start(self):
            if not self.trainer.sanity_checking:
                self.hooks.append((self.current_epoch, self.trainer.global_step))

    module = Module()
    extra = {"accelerator": "cpu"} if lib == "pl" else {}
    with warnings.catch_warnings(), patch("time.monotonic", side_effect=monotonic):
        warnings.simplefilter("ignore")
        trainer = trainer_cls(**QUIET, **extra, max_epochs=4, limit_train_batches=per_epoch, limit_val_batches=1,
                              val_check_interval=interval, check_val_every_n_epoch=every,
                              num_sanity_val_steps=sanity, **(flags or {}))
        trainer.fit(module, _ints(20), _ints(3))
    return [hook for hook in module.hooks if isinstance(hook[0], int)], clock["now"] // tick


@pytest.mark.parametrize("every, interval, per_epoch, tick, sanity", [
    (1, "00:00:00:02", 5, 1, 2),             # the clock alone: several validations per epoch, none at its end
    (None, "00:00:00:04", 2, 1, 0),          # no epoch gating, no sanity check
    (2, {"seconds": 3}, 6, 1, 2),            # gated by check_val_every_n_epoch: no clock in the other epochs
    (1, timedelta(seconds=6), 8, 1, 2),
    (2, "00:00:00:20", 9, 1, 2),             # longer than training: never
    (1, {"minutes": 1}, 3, 25, 1),           # each reading 25 s later
])
def test_time_based_validation_as_lightning(every, interval, per_epoch, tick, sanity):
    ours = _validations("st", every, interval, per_epoch, tick, sanity)
    theirs = _validations("pl", every, interval, per_epoch, tick, sanity)
    assert ours == theirs


def test_a_stop_request_validates_without_reading_the_clock():
    def stopper(callback_base):
        class Stop(callback_base):
            def on_train_batch_end(self, trainer, *args):
                if trainer.global_step == 3:
                    trainer.should_stop = True
        return Stop()

    pl = pytest.importorskip("lightning.pytorch")
    ours = _validations("st", 1, "00:01:00:00", 5, flags={"callbacks": [stopper(st.Callback)]})
    theirs = _validations("pl", 1, "00:01:00:00", 5, flags={"callbacks": [stopper(pl.Callback)]})
    assert ours == theirs == ([(0, 3)], 1 + 1 + 2 + 1)  # sanity end, training start, batches 1-2, validation end


def test_batch_based_runs_read_no_clock():
    assert _validations("st", 1, 2, 4)[1] == 0


def test_the_interval_is_parsed_once_and_shown():
    trainer = st.Trainer(val_check_interval="01:02:03:04", logger=False)
    assert trainer.val_check_interval == timedelta(days=1, hours=2, minutes=3, seconds=4)
    assert st.Trainer(val_check_interval={"hours": 2}, logger=False).val_check_interval == timedelta(hours=2)
    assert st.Trainer(val_check_interval="00:00:00:05", fast_dev_run=True, logger=False).val_check_interval == 1.0


@pytest.mark.parametrize("value, accepted", [
    ("1:2", "a string 'DD:HH:MM:SS'"),
    ({"fortnights": 1}, "a dict with keys among weeks, days"),
    ("00:00:00:00", "a time longer than zero"),
    (2.5, "a float in (0.0, 1.0] (fraction of an epoch), an int >= 1 (batches), or a time"),
])
def test_bad_intervals_name_the_flag_value_and_what_is_accepted(value, accepted):
    with pytest.raises(MisconfigurationError, match=rf"^`val_check_interval` got {value!r}; accepted: ".replace(
            "(", r"\(").replace(")", r"\)").replace("{", r"\{").replace("}", r"\}")) as info:
        st.Trainer(val_check_interval=value, logger=False)
    assert accepted in str(info.value)


def test_a_fraction_needs_epochs_and_whole_floats_are_batches():
    with pytest.raises(MisconfigurationError, match=r"`val_check_interval` got 0.5; accepted: an int number of "
                                                    r"batches or a time when check_val_every_n_epoch=None"):
        st.Trainer(val_check_interval=0.5, check_val_every_n_epoch=None, logger=False)
    assert st.Trainer(val_check_interval=3.0, logger=False).val_check_interval == 3
    assert st.Trainer(limit_train_batches=1e50, logger=False).limit_train_batches == int(1e50)
