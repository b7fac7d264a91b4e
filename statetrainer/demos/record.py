"""The demo's record of its run (``--record FILE``): what it printed, how long fit took, and where.

The figures docs/demo.md and README quote about the demo come from this file (``make demo``
writes ``docs/figures/demo.json``), so a quoted time always says when, on what and with which
command it was measured; ``tests/test_docs_figures.py`` fails when a doc and the record disagree.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from typing import Sequence

__all__ = ["write_record"]


def _load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):  # not on every platform
        return None


def machine() -> dict:
    """What the run ran on: versions, the CPUs it may use, torch threads, the load average at the end."""
    import torch

    import statetrainer

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"statetrainer": statetrainer.__version__, "python": platform.python_version(),
            "torch": torch.__version__, "cpus": cpus, "torch_threads": torch.get_num_threads(),
            "load_average": _load_average()}


def write_record(path: str | os.PathLike, argv: Sequence[str] | None, output: Sequence[str], fit_seconds: float,
                 optimizer_steps: int) -> None:
    """Write the JSON record of one demo run to `path` (its folder is created). Paths under the
    working directory are written relative to it, so the record reads the same wherever it ran."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    here = os.getcwd() + os.sep
    record = {
        "command": " ".join(["python -m statetrainer.demos.transformer", *arguments]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "fit_seconds": round(fit_seconds, 1),
        "optimizer_steps": optimizer_steps,
        "output": [line.replace(here, "") for line in output],
    }
    folder = os.path.dirname(os.fspath(path))
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)
        handle.write("\n")
