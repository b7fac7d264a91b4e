"""Lightning itself, run now, must still produce every golden file (so they cannot drift)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .compare import assert_outcome_matches, trace_diff
from .harness import run_scenario
from .registry import all_scenarios

lightning = pytest.importorskip("lightning")

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"


@pytest.mark.parametrize("name", sorted(all_scenarios()))
def test_lightning_still_matches_golden(name, tmp_path):
    if lightning.__version__ != "2.6.6":
        pytest.skip(f"golden files were recorded with lightning 2.6.6, found {lightning.__version__}")
    golden = json.loads((GOLDEN_DIR / f"{name}.json").read_text())
    outcome = run_scenario("lightning", all_scenarios()[name], str(tmp_path))
    assert_outcome_matches(outcome, golden)


def test_trace_diff_points_at_first_difference():
    text = trace_diff(["a", "b", "c"], ["a", "x", "c"])
    assert "first at index 1" in text
    assert "-b" in text and "+x" in text
