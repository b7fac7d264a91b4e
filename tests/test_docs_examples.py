"""The Python examples of these docs run in order, and print what the docs show after them.

In each page, the ```python blocks run one after another in one namespace (in a fresh working
directory), except a block right after a ``<!-- not run: reason -->`` line (a signature, say); a
```output block right after a python block holds what that block prints, compared after masking
timings (tqdm's ``[00:00<00:01, 12.3it/s``, rich's ``0:00:00 • 0:00:01 12.30it/s``).
``python tests/test_docs_examples.py --write`` runs the pages and rewrites their output blocks.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["docs/progress.md", "docs/tracing.md", "docs/loggers.md"]
SLOW = {"docs/loggers.md"}  # its MLflow example creates an MLflow store (~10-20 s)
FENCE = re.compile(r"^(<!-- not run: [^\n]*-->\n)?```(python|output)\n(.*?)^```\n", re.S | re.M)
TIMINGS = [
    (re.compile(r"\[\d\d:\d\d<(?:\d\d:\d\d|\?), +[\d.?]+(?:it/s|s/it)"), "[TIME"),
    (re.compile(r"\d+:\d\d:\d\d • (?:\d+:\d\d:\d\d|-:--:--) [\d.]+it/s"), "TIME"),
    (re.compile(r"━+"), "━"),  # a rich bar is as wide as the speed text leaves room for
]


def mask(text: str) -> str:
    for pattern, replacement in TIMINGS:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.splitlines())


def run_page(page: str) -> list[tuple[re.Match, str]]:
    """Run the python blocks of `page`; (output block, what the python block before it printed) pairs."""
    text = (ROOT / page).read_text(encoding="utf-8")
    namespace: dict = {"__name__": "__doc_example__"}
    pairs, printed = [], None
    for block in FENCE.finditer(text):
        if block.group(1):
            continue
        if block.group(2) == "python":
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(compile(block.group(3), f"{page}:{text.count(chr(10), 0, block.start()) + 2}", "exec"),
                     namespace)
            printed = buffer.getvalue()
        elif printed is not None:
            pairs.append((block, printed))
            printed = None
    return pairs


@contextlib.contextmanager
def _example_environment(directory: str):
    previous, columns = os.getcwd(), os.environ.get("COLUMNS")
    os.chdir(directory)
    os.environ["COLUMNS"] = "100"  # rich sizes a display that is not a terminal from COLUMNS
    try:
        yield
    finally:
        os.chdir(previous)
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns


@pytest.mark.parametrize("page", [pytest.param(p, marks=pytest.mark.slow) if p in SLOW else p for p in PAGES])
def test_doc_examples_run_and_print_what_the_doc_shows(page, tmp_path):
    with _example_environment(str(tmp_path)):
        pairs = run_page(page)
    assert pairs or page in SLOW, f"{page} shows no output block"
    for block, printed in pairs:
        line = (ROOT / page).read_text(encoding="utf-8").count("\n", 0, block.start()) + 1
        assert mask(block.group(3)) == mask(printed), f"{page}:{line}: the output differs from the run's"


def write(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as directory, _example_environment(directory):
        pairs = run_page(page)
    for block, printed in reversed(pairs):
        text = text[:block.start(3)] + printed + text[block.end(3):]
    (ROOT / page).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:2] != ["--write"]:
        sys.exit("usage: python tests/test_docs_examples.py --write [page ...]")
    sys.path.insert(0, str(ROOT))
    for name in sys.argv[2:] or PAGES:
        write(name)
        print(f"rewrote the output blocks of {name}")
