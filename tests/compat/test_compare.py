"""The comparator must reject every kind of divergence from a golden outcome (no lightning needed)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from .compare import assert_error_matches, assert_outcome_matches

GOLDEN = json.loads((Path(__file__).resolve().parents[1] / "golden" / "log_train_modes.json").read_text())


def mutated(change):
    outcome = copy.deepcopy(GOLDEN)
    change(outcome)
    return outcome


def test_identical_outcome_passes():
    assert_outcome_matches(copy.deepcopy(GOLDEN), GOLDEN)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda o: o["trace"].pop(5), "traces differ first at index 5"),
        (lambda o: o["trace"].__setitem__(0, "Module.prepare_data()"), "traces differ first at index 0"),
        (lambda o: o.__setitem__("global_step", o["global_step"] + 1), "global_step"),
        (lambda o: o["state"].__setitem__("status", "interrupted"), "state"),
        (lambda o: o["callback_metrics"].__setitem__("both", 12.01), "callback_metrics"),
        (lambda o: o["logged_metrics"].pop("summed"), "logged_metrics"),
        (lambda o: o["progress_bar_metrics"].__setitem__("extra", 1.0), "progress_bar_metrics"),
        (lambda o: o["logger_calls"].pop(), "logger_calls"),
        (lambda o: o["weights"]["layer.bias"].__setitem__(0, o["weights"]["layer.bias"][0] + 1e-3), "layer.bias"),
        (lambda o: o.__setitem__("error", "RuntimeError: x"), "error"),
    ],
)
def test_divergence_is_reported(change, message):
    with pytest.raises(AssertionError, match=message):
        assert_outcome_matches(mutated(change), GOLDEN)


def test_float_noise_below_tolerance_is_accepted():
    outcome = mutated(lambda o: o["callback_metrics"].__setitem__("both", 12.0 + 1e-7))
    assert_outcome_matches(outcome, GOLDEN)


def test_error_aliases_and_user_errors():
    assert_error_matches("MisconfigurationException: a", "MisconfigurationError: b")
    with pytest.raises(AssertionError):
        assert_error_matches("RuntimeError: boom at batch 1", "RuntimeError: other text")
    with pytest.raises(AssertionError):
        assert_error_matches("MisconfigurationException: a", "ValueError: a")
