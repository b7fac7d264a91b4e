"""statetrainer must reproduce every golden outcome recorded from Lightning 2.6.6."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .compare import assert_outcome_matches, with_documented_differences
from .harness import run_scenario
from .registry import all_scenarios

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
GOLDEN_FILES = sorted(GOLDEN_DIR.glob("*.json"))


def require_statetrainer() -> None:
    try:
        import statetrainer  # noqa: F401
    except ImportError as exc:  # only a missing package skips; any other error fails
        pytest.skip(f"statetrainer is not importable yet ({exc}); golden comparison needs it")


def test_every_scenario_has_a_golden_file():
    names = {p.stem for p in GOLDEN_FILES}
    assert names == set(all_scenarios()), (
        f"missing golden: {sorted(set(all_scenarios()) - names)}; stale golden: {sorted(names - set(all_scenarios()))}"
    )


def test_golden_files_are_well_formed():
    for path in GOLDEN_FILES:
        golden = json.loads(path.read_text())
        assert golden["scenario"] == path.stem
        assert golden["lightning_version"] == "2.6.6"
        assert golden["trace"], f"{path.name} has an empty trace"


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_statetrainer_matches_golden(path, tmp_path):
    require_statetrainer()
    golden = json.loads(path.read_text())
    outcome = run_scenario("statetrainer", all_scenarios()[golden["scenario"]], str(tmp_path))
    assert_outcome_matches(outcome, golden, with_documented_differences)
