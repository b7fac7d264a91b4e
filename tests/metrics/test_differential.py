"""The MetricBook, driven by the replay of Lightning's loop order, against a real Lightning Trainer.

Each scenario's trace (dictionaries recorded at callback hooks, every logger.log_metrics call,
validate/test results) must be identical: keys, value types (tensor dtype vs float vs int)
and values to 5 decimals, in the same order.
"""
from __future__ import annotations

import difflib
import pprint

import pytest

from statetrainer.errors import MisconfigurationError

from .replay import replay
from .scenarios import ERROR_SCENARIOS, SCENARIOS

lightning = pytest.importorskip("lightning.pytorch")
from .library_run import run as run_library  # noqa: E402


def assert_same_trace(expected: list, actual: list) -> None:
    if expected != actual:
        diff = difflib.unified_diff(pprint.pformat(expected, width=150).splitlines(),
                                    pprint.pformat(actual, width=150).splitlines(), "lightning", "ours", lineterm="")
        pytest.fail("traces differ:\n" + "\n".join(list(diff)[:120]))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_replay_matches_lightning(scenario, tmp_path):
    expected = run_library(lightning, scenario, str(tmp_path))
    assert any(event[0] == "log_metrics" for event in expected) or scenario.name == "never_log_steps"
    assert_same_trace(expected, replay(scenario))


@pytest.mark.parametrize("scenario", ERROR_SCENARIOS, ids=lambda s: s.name)
def test_replay_refuses_what_lightning_refuses(scenario, tmp_path):
    with pytest.raises(Exception) as theirs:
        run_library(lightning, scenario, str(tmp_path))
    with pytest.raises(MisconfigurationError) as ours:
        replay(scenario)
    assert isinstance(ours.value, ValueError)      # catchable as Lightning's (ValueError-based) errors
    assert scenario.logs[0].name.split("/")[0] in str(ours.value), str(ours.value)
    assert theirs.value is not None
