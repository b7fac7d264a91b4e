"""docs/fsm.md and docs/signals.md are generated from the code and must be current."""
from __future__ import annotations

import pytest

from statetrainer.machine.table import STATES
from statetrainer.signals import CATALOGUE
from tests.core import gen_docs


@pytest.mark.parametrize("rel", sorted(gen_docs.DOCS))
def test_generated_doc_is_current(rel):
    path = gen_docs.ROOT / rel
    assert path.exists(), f"{rel} is missing: run .venv/bin/python tests/core/gen_docs.py"
    assert path.read_text() == gen_docs.DOCS[rel](), (
        f"{rel} is stale (the table or the signal catalogue changed): run "
        ".venv/bin/python tests/core/gen_docs.py and commit the result")


def test_fsm_doc_names_every_state_and_guard():
    text = gen_docs.fsm_md()
    for state in STATES:
        assert f"| `{state.name}` |" in text
    assert "```mermaid\nstateDiagram-v2" in text and "should_validate_now" in text


def test_signals_doc_lists_every_signal_with_its_payload():
    text = gen_docs.signals_md()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(CATALOGUE)
    assert "| `on_train_batch_end` | `outputs: Any`, `batch: Any`, `batch_idx: int` | Callback, StateModule |" in text


def test_check_mode_reports_stale_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gen_docs, "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    assert gen_docs.main(["--check"]) == 1
    assert "docs/fsm.md is stale: run `.venv/bin/python tests/core/gen_docs.py`" in capsys.readouterr().out
    assert gen_docs.main([]) == 0 and gen_docs.main(["--check"]) == 0


def test_flags_doc_lists_every_flag_with_its_default_type_and_help():
    from statetrainer.trainer.flags import FLAG_HELP
    text = gen_docs.flags_md()
    rows = [line for line in text.split("## Subcommand")[0].splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(FLAG_HELP)
    assert "| `max_epochs` | `None` | an int or None | stop after this many epochs" in text
    assert "| `gradient_clip_algorithm` | `None` | 'norm', 'value' or None |" in text
    assert "| `fit` | `--ckpt_path` | `None` | a str or None |" in text
