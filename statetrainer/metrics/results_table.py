"""The table `validate(verbose=True)` / `test(verbose=True)` prints: one column per dataloader."""
from __future__ import annotations

import os
import shutil
import sys
from typing import Any, Mapping, Sequence

__all__ = ["print_results", "format_results"]

_SUFFIX = "/dataloader_idx_"


def _text(value: Any) -> str:
    if hasattr(value, "numel"):
        value = value.item() if value.numel() == 1 else value.tolist()
    return f"{value}"


def _rule_character() -> str:
    encoding = sys.stdout.encoding
    try:
        if encoding is not None:
            "─".encode(encoding)
    except UnicodeEncodeError:
        return "-"
    return "─"


def format_results(results: Sequence[Mapping[str, Any]], stage: str, width: int | None = None) -> str:
    """The table as text ('' when there is nothing to show). Metric names lose their dataloader suffix."""
    results = [{name.split(_SUFFIX)[0]: value for name, value in result.items()} for result in results]
    names = sorted({name for result in results for name in result})
    if not names:
        return ""
    width = width or shutil.get_terminal_size(fallback=(120, 30)).columns or 120
    headers = [f"DataLoader {i}" for i in range(len(results))]
    column = int(min(max(len(max(names, key=len)), len(max(headers, key=len)), 25), width / 2))
    per_table = max(int((width - column) / column), 1)
    rule = _rule_character() * width
    blocks = []
    for start in range(0, len(headers), per_table):
        columns = [f"{stage} Metric".capitalize(), *headers[start:start + per_table]]
        row_format = f"{{:^{column}}}" * len(columns)
        lines = [rule, row_format.format(*columns).rstrip(), rule]
        for name in names:
            cells = [_text(result[name]) if name in result else " " for result in results[start:start + per_table]]
            lines.extend(_metric_lines(row_format, name, cells, int(width / 2)))
        lines.append(rule)
        blocks.append(os.linesep.join(lines))
    return os.linesep.join(blocks)


def _metric_lines(row_format: str, name: str, cells: list[str], half: int) -> list[str]:
    """One line, or several when the metric name is wider than half the terminal."""
    lines = []
    while len(name) > half:
        lines.append(row_format.format(name[:half], *cells).rstrip())
        name = name[half:]
        cells = [" "] * len(cells)
    lines.append(row_format.format(name, *cells).rstrip())
    return lines


def print_results(results: Sequence[Mapping[str, Any]], stage: str) -> None:
    """Print the results of `validate` / `test` (one dict per dataloader) as Lightning's plain table."""
    text = format_results(results, stage)
    if text:
        print(text)
