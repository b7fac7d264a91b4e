"""All scenarios, from every scenario module, by name."""
from __future__ import annotations


def all_scenarios() -> dict:
    from . import scenarios, scenarios_control, scenarios_logging  # noqa: F401 - registering imports

    return dict(sorted(scenarios.SCENARIOS.items()))
