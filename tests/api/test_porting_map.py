"""docs/porting.md's import map: every name listed imports, here and in Lightning (so the doc cannot lie)."""
from __future__ import annotations

import importlib
import inspect
import re
import types
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "porting.md"
NAME = re.compile(r"`([A-Za-z_][\w.]*)`")


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## Import map")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def _rows(header: str) -> list[list[str]]:
    """The backticked names of each row of the table under `### <header>`."""
    section = _section()
    table = section[section.index(f"### {header}"):].split("\n### ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return [NAME.findall(row.split("|")[1]) + NAME.findall(row.split("|")[2] if row.count("|") > 2 else "")
            for row in rows]


SAME = [row[0] for row in _rows("Same path after the replacement")]
OTHER = [(row[0], row[1]) for row in _rows("Other names")]


def resolve(dotted: str):
    """The object at a dotted path: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def ported(name: str) -> str:
    return re.sub(r"^lightning\.pytorch", "statetrainer", name)


def kind(obj) -> str:
    if isinstance(obj, types.ModuleType):
        return "module"
    return "class" if inspect.isclass(obj) else "other"


def test_the_tables_are_not_empty():
    assert len(SAME) > 50 and len(OTHER) >= 5
    assert all(name.startswith("lightning.pytorch.") for name in SAME)


@pytest.mark.parametrize("name", SAME)
def test_same_path_imports_here(name):
    resolve(ported(name))


@pytest.mark.parametrize("lightning_name,ours", OTHER)
def test_other_name_imports_here(lightning_name, ours):
    resolve(ours)


def test_lightning_has_every_listed_name():
    pytest.importorskip("lightning.pytorch")
    for name in SAME + [pair[0] for pair in OTHER]:
        assert kind(resolve(name)) == kind(resolve(ported(name) if name in SAME else dict(OTHER)[name])), name


def test_aliases_are_the_same_classes():
    import statetrainer as st
    assert st.LightningModule is st.StateModule and st.core.LightningDataModule is st.DataModule
    assert resolve("statetrainer.trainer.Trainer") is st.Trainer
