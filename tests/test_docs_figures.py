"""Figures quoted in README.md and docs/ (a time: "24.3 s", "~2 µs", "8 minutes") have a source.

A figure is sourced when it sits
- inside a generated block ``<!-- figures: FILE [VARIANT] -->`` ... ``<!-- /figures -->``, whose text
  must equal what this module renders from FILE (a record a program wrote, e.g. the demo's
  ``--record docs/figures/demo.json``); or
- after a ``<!-- source: ... -->`` comment in the same section (up to the next heading), where the
  source is a file of the repository (``benchmarks/results.json``), ``measured YYYY-MM-DD ...``
  naming the command in backticks, or ``illustration ...`` (example output, not a measurement).
A number right after ``<``, ``≤``, ``>`` or ``≥`` is a threshold, not a figure.

``python tests/test_docs_figures.py --write`` rewrites the generated blocks from their records
(``make demo`` runs it after recording the demo).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURE = re.compile(r"(?<![\w.])(~?\d+(?:\.\d+)?(?:\s?[-–]\s?\d+(?:\.\d+)?)?\s?"
                    r"(?:s|sec|seconds?|minutes?|min|ms|µs|us|hours?))(?![\w/])")
THRESHOLD = re.compile(r"[<>≤≥]\s*$")
SOURCE = re.compile(r"<!-- source: (.*?) -->")
BLOCK = re.compile(r"(<!-- figures: (\S+)(?: (\w+))? -->\n)(.*?)(<!-- /figures -->)", re.S)
DATED = re.compile(r"measured \d{4}-\d{2}-\d{2}\b.*`[^`]+`")


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


# ---------------------------------------------------------------- rendering records
def _load(name: str) -> dict:
    return json.loads((ROOT / name).read_text(encoding="utf-8"))


def _when(record: dict) -> str:
    machine = record["machine"]
    load = machine.get("load_average")
    busy = f", load average {load[0]}" if load else ""
    return (f"`{record['command']}` on {record['date'][:10]}, statetrainer {machine['statetrainer']}, "
            f"torch {machine['torch']}, {machine['cpus']} CPUs{busy}, {machine['torch_threads']} torch "
            f"thread{'s' if machine['torch_threads'] != 1 else ''}")


def render(name: str, variant: str | None) -> str:
    """The text of a generated block for record `name`: the demo's output, or its one-line summary."""
    record = _load(name)
    if variant == "summary":
        losses = next(line for line in record["output"] if line.startswith("validation loss:"))
        start, end = re.search(r"([\d.]+) at the start -> ([\d.]+) at the end", losses).groups()
        return (f"The last recorded run ({_when(record)}) trained {record['optimizer_steps']} optimizer steps in "
                f"{record['fit_seconds']} s while the validation loss fell from {start} to {end}.\n")
    lines = "\n".join(record["output"])
    return f"Recorded by {_when(record)}:\n\n```\n{lines}\n```\n"


def generated_blocks(text: str) -> list[re.Match]:
    return list(BLOCK.finditer(text))


def rewrite(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    new = BLOCK.sub(lambda m: m.group(1) + render(m.group(2), m.group(3)) + m.group(5), text)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


# ---------------------------------------------------------------- finding figures
def _spans(text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Heading positions outside code fences, and the generated blocks' spans."""
    headings, offset, fenced = [], 0, False
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            headings.append(offset)
        offset += len(line)
    return headings, [(m.start(), m.end()) for m in generated_blocks(text)]


def _source_valid(source: str) -> bool:
    source = source.strip()
    if source.split(" ", 1)[0] == "illustration" or DATED.search(source):
        return True
    return (ROOT / source.split()[0]).is_file()


def unsourced(path: Path) -> list[str]:
    """``file:line: figure`` for every figure of `path` without a source."""
    text = path.read_text(encoding="utf-8")
    headings, blocks = _spans(text)
    missing = []
    for match in FIGURE.finditer(text):
        where = match.start()
        if THRESHOLD.search(text[max(0, where - 2):where]) or any(a <= where < b for a, b in blocks):
            continue
        section_start = max([h for h in headings if h <= where], default=0)
        sources = [s for s in SOURCE.finditer(text, section_start, where) if _source_valid(s.group(1))]
        if not sources:
            line = text.count("\n", 0, where) + 1
            missing.append(f"{path.relative_to(ROOT)}:{line}: {match.group(1)!r}")
    return missing


# ---------------------------------------------------------------- the tests
def test_every_quoted_figure_has_a_source():
    missing = [item for path in doc_files() for item in unsourced(path)]
    assert not missing, ("figures without a source (add a <!-- source: ... --> comment to their section, or quote "
                         "them from a record in a generated block):\n" + "\n".join(missing))


def test_generated_blocks_equal_their_records():
    stale = []
    for path in doc_files():
        for match in generated_blocks(path.read_text(encoding="utf-8")):
            if match.group(4) != render(match.group(2), match.group(3)):
                stale.append(f"{path.relative_to(ROOT)}: block from {match.group(2)}")
    assert not stale, "stale generated blocks (run `python tests/test_docs_figures.py --write`):\n" + "\n".join(stale)


def test_the_demo_docs_quote_the_demo_record():
    for path in (ROOT / "README.md", ROOT / "docs" / "demo.md"):
        assert any(m.group(2) == "docs/figures/demo.json" for m in generated_blocks(path.read_text())), path


def test_the_checker_catches_a_figure_without_a_source(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "page.md"
    doc.write_text("# A\n\nA run takes 69.5 s.\n\n# B\n<!-- source: measured 2026-12-01 with `make demo` -->\n"
                   "It took 24 s (target < 30 s).\n\n# C\n<!-- source: nowhere.json -->\nAbout 3 minutes.\n")
    assert unsourced(doc) == ["docs/page.md:3: '69.5 s'", "docs/page.md:11: '3 minutes'"]


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_docs_figures.py --write")
    for doc in doc_files():
        if rewrite(doc):
            print(f"rewrote {doc.relative_to(ROOT)}")
