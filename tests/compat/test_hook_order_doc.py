"""docs/hook_order.md quotes golden traces; every quoted block must still be in its golden file."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "hook_order.md"
BLOCK = re.compile(r"^```trace (\S+)\n(.*?)^```", re.S | re.M)


def quoted_blocks() -> list[tuple[str, list[str]]]:
    return [(m.group(1), m.group(2).strip().splitlines()) for m in BLOCK.finditer(DOC.read_text())]


def is_contiguous_slice(lines: list[str], trace: list[str]) -> bool:
    n = len(lines)
    return any(trace[i:i + n] == lines for i in range(len(trace) - n + 1))


def test_doc_quotes_some_traces():
    assert len(quoted_blocks()) >= 8


@pytest.mark.parametrize("index", range(len(quoted_blocks())))
def test_quoted_block_is_in_golden_trace(index):
    name, lines = quoted_blocks()[index]
    trace = json.loads((ROOT / "tests" / "golden" / f"{name}.json").read_text())["trace"]
    assert is_contiguous_slice(lines, trace), f"block {index} ({name}) is not a slice of the golden trace"


def test_slice_check_rejects_reordering():
    assert is_contiguous_slice(["b", "c"], ["a", "b", "c"])
    assert not is_contiguous_slice(["c", "b"], ["a", "b", "c"])
