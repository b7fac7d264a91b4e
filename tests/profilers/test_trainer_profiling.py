"""Profilers under a real fit: the table printed at the end, the report file in the log folder."""
from __future__ import annotations

import os
import re

import torch
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st
from tests.tiny import Tiny
from statetrainer.profilers import AdvancedProfiler, PassThroughProfiler, SimpleProfiler


def _fit(tmp_path, profiler, logger=False):
    data = DataLoader(TensorDataset(torch.randn(12, 2)), batch_size=4)
    trainer = st.Trainer(max_epochs=2, profiler=profiler, default_root_dir=str(tmp_path), logger=logger,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=1)
    trainer.fit(Tiny(), data, data)
    return trainer


def _rows(text):
    return {match[0].strip(): int(match[1]) for match in re.findall(r"^\| (\S+)\s+\| [^|]+\| (\d+)\s+\|", text, re.M)}


def test_simple_profiler_times_every_state_and_hook_and_prints_the_table(tmp_path, capsys):
    trainer = _fit(tmp_path, "simple")
    out = capsys.readouterr().out
    assert out.startswith("FIT Profiler Report\n")
    calls = _rows(out)
    assert isinstance(trainer.profiler, SimpleProfiler)
    assert calls["[State]train_batch"] == 6  # 3 batches x 2 epochs
    assert calls["[StateModule]Tiny.training_step"] == 6
    assert calls["[StateModule]Tiny.validation_step"] == 2
    assert calls["Total"] == sum(count for name, count in calls.items() if name != "Total")
    assert any(name.startswith("[State]") and count == 1 for name, count in calls.items())


def test_a_profiler_with_a_filename_writes_into_the_trainers_log_dir(tmp_path, capsys):
    trainer = _fit(tmp_path, SimpleProfiler(filename="perf"), logger=True)
    assert capsys.readouterr().out == ""
    path = os.path.join(trainer.log_dir, "fit-perf-0.txt")
    with open(path) as handle:
        text = handle.read()
    assert text.startswith("FIT Profiler Report") and _rows(text)["[State]train_batch"] == 6


def test_advanced_profiler_reports_top_functions_per_action(tmp_path):
    profiler = AdvancedProfiler(dirpath=tmp_path / "prof", filename="adv", line_count_restriction=5)
    _fit(tmp_path, profiler)
    (name,) = os.listdir(tmp_path / "prof")
    text = (tmp_path / "prof" / name).read_text()
    assert "Profile stats for: [StateModule]Tiny.training_step" in text
    block = text.split("Profile stats for: [StateModule]Tiny.training_step")[1].split("Profile stats for:")[0]
    assert "function calls" in block and "due to restriction <5>" in block


def test_no_profiler_by_default(tmp_path, capsys):
    trainer = _fit(tmp_path, None)
    assert isinstance(trainer.profiler, PassThroughProfiler)
    assert "Profiler Report" not in capsys.readouterr().out
