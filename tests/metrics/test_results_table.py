"""The validate/test results table, compared with the plain-text table Lightning prints."""
from __future__ import annotations

import pytest
import torch

from statetrainer.metrics import format_results, print_results

RESULTS = [
    [{"val_loss": 0.25, "acc": 0.875}],
    [{"loss/dataloader_idx_0": 1.5, "shared": 2.0}, {"loss/dataloader_idx_1": 3.25, "shared": 2.0, "only1": 7.0}],
    [{"a_rather_long_metric_name_that_is_wide": torch.tensor(1.0)}],
]


def test_layout_one_dataloader():
    text = format_results([{"val_loss": 0.25, "acc": 0.875}], "validate", width=60)
    lines = text.splitlines()
    assert lines[0] == "─" * 60 == lines[2] == lines[-1]
    assert lines[1] == f"{'Validate metric':^25}{'DataLoader 0':^25}".rstrip()
    assert lines[3] == f"{'acc':^25}{'0.875':^25}".rstrip()
    assert lines[4] == f"{'val_loss':^25}{'0.25':^25}".rstrip()


def test_missing_values_are_blank_and_suffixes_dropped():
    text = format_results(RESULTS[1], "test", width=100)
    assert f"{'only1':^25}{' ':^25}{'7.0':^25}".rstrip() in text.splitlines()
    assert "dataloader_idx" not in text


def test_nothing_to_print(capsys):
    print_results([{}], "validate")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("results", RESULTS)
@pytest.mark.parametrize("stage", ["validate", "test"])
def test_same_text_as_lightning(results, stage, capsys, monkeypatch):
    pytest.importorskip("lightning")
    from lightning.pytorch.loops import evaluation_loop
    monkeypatch.setattr(evaluation_loop, "_RICH_AVAILABLE", False)
    evaluation_loop._EvaluationLoop._print_results(results, stage)
    theirs = capsys.readouterr().out
    print_results(results, stage)
    assert capsys.readouterr().out == theirs
