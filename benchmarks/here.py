"""Import this first: `import statetrainer` then means the checkout these benchmarks sit in.

A script's own folder (benchmarks/) heads sys.path, not the repository root, so without this an
installed statetrainer (an editable install of another checkout, a release) would be measured.
"""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(1, ROOT)


def statetrainer_source() -> str | None:
    """Where the imported statetrainer package lives, if it has been imported in this process."""
    module = sys.modules.get("statetrainer")
    return os.path.dirname(os.path.abspath(module.__file__)) if module else None
