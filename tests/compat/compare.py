"""Assertions that one scenario outcome equals a golden one (traces exactly, floats closely)."""
from __future__ import annotations

import difflib
import math

import torch

from .serialise import round_floats

REL_TOL, ABS_TOL = 1e-5, 1e-6  # golden floats keep 7 significant digits
WEIGHT_RTOL, WEIGHT_ATOL = 1e-4, 1e-5
EXACT_KEYS = ("global_step", "current_epoch", "state", "should_stop", "module_training")
# Lightning's exception class names and the statetrainer names that stand for them.
ERROR_ALIASES = {"MisconfigurationException": "MisconfigurationError"}
USER_ERRORS = {"RuntimeError", "ValueError"}  # raised by scenario code: must pass through unchanged
METRIC_KEYS = ("callback_metrics", "logged_metrics", "progress_bar_metrics", "results", "lrs", "logger_calls", "extra")


def trace_diff(expected: list[str], actual: list[str], limit: int = 60) -> str:
    """A unified diff of two traces, cut to ``limit`` lines, with the first differing index."""
    first = next((i for i, (e, a) in enumerate(zip(expected, actual)) if e != a), min(len(expected), len(actual)))
    lines = list(difflib.unified_diff(expected, actual, "lightning (golden)", "statetrainer", lineterm="", n=3))
    shown = "\n".join(lines[:limit]) + ("\n..." if len(lines) > limit else "")
    return f"traces differ first at index {first} (golden has {len(expected)} calls, got {len(actual)}):\n{shown}"


def close(expected, actual) -> bool:
    """Structural equality where floats may differ in the last kept digits."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(expected, actual, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(close(expected[k], actual[k]) for k in expected)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(close(e, a) for e, a in zip(expected, actual))
    return expected == actual


def assert_weights_match(expected: dict, actual: dict) -> None:
    assert sorted(expected) == sorted(actual), f"parameter names differ: {sorted(expected)} vs {sorted(actual)}"
    for name, values in expected.items():
        want, got = torch.tensor(values), torch.tensor(actual[name])
        assert torch.allclose(got, want, rtol=WEIGHT_RTOL, atol=WEIGHT_ATOL), (
            f"weights of {name} differ: golden {values}, got {actual[name]}"
        )


def assert_error_matches(expected: str | None, actual: str | None) -> None:
    """Same outcome: no error, the same user exception (type and text), or the same library error type."""
    if expected is None or actual is None:
        assert expected == actual, f"error: golden {expected!r}, got {actual!r}"
        return
    want_type, got_type = expected.split(":", 1)[0], actual.split(":", 1)[0]
    if want_type in USER_ERRORS:
        assert actual == expected, f"error: golden {expected!r}, got {actual!r}"
        return
    accepted = {want_type, ERROR_ALIASES.get(want_type, want_type)}
    assert got_type in accepted, f"error: golden {expected!r}, got {actual!r}"


def with_documented_differences(trace: list[str]) -> list[str]:
    """The trace statetrainer must give where Lightning's gives `trace` (docs/hook_order.md, "Deliberate
    differences"): after an exception, statetrainer runs teardown(stage) on every listener that got
    setup(stage), in the same order (SPEC section 3); Lightning runs no teardown hooks then."""
    if not trace or ".on_exception(" not in trace[-1]:
        return list(trace)
    renamed = list(trace)
    for lightning_name, ours in ERROR_ALIASES.items():
        renamed = [call.replace(f"exception={lightning_name})", f"exception={ours})") for call in renamed]
    return renamed + [call.replace(".setup(", ".teardown(") for call in trace if ".setup(stage=" in call]


def assert_outcome_matches(actual: dict, golden: dict, differences=None) -> None:
    actual = round_floats(actual)
    expected_trace = differences(golden["trace"]) if differences else golden["trace"]
    assert actual["trace"] == expected_trace, trace_diff(expected_trace, actual["trace"])
    for key in EXACT_KEYS:
        assert actual.get(key) == golden.get(key), f"{key}: golden {golden.get(key)!r}, got {actual.get(key)!r}"
    assert_error_matches(golden.get("error"), actual.get("error"))
    for key in METRIC_KEYS:
        want, got = golden.get(key), actual.get(key)
        assert close(want, got), f"{key}: golden {want!r}, got {got!r}"
    assert_weights_match(golden["weights"], actual["weights"])
