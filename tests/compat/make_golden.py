"""Regenerate tests/golden/<scenario>.json by running every scenario under Lightning.

Usage (from the repository root):  .venv/bin/python -m tests.compat.make_golden [NAME ...]
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a plain script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    __package__ = "tests.compat"

from .harness import run_scenario  # noqa: E402
from .registry import all_scenarios  # noqa: E402

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"


def golden_path(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def write_golden(name: str, scenario) -> dict:
    with tempfile.TemporaryDirectory() as root_dir:
        outcome = run_scenario("lightning", scenario, root_dir)
    import lightning

    outcome = {"scenario": name, "doc": scenario.doc, "lightning_version": lightning.__version__, **outcome}
    golden_path(name).write_text(json.dumps(outcome, indent=1) + "\n")
    return outcome


def main(argv: list[str]) -> int:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    scenarios = all_scenarios()
    names = argv or sorted(scenarios)
    unknown = [n for n in names if n not in scenarios]
    if unknown:
        print(f"unknown scenario(s) {unknown}; known: {sorted(scenarios)}", file=sys.stderr)
        return 2
    for name in names:
        outcome = write_golden(name, scenarios[name])
        print(f"{name}: {len(outcome['trace'])} hook calls, global_step={outcome['global_step']}"
              f"{', error=' + outcome['error'] if outcome['error'] else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
