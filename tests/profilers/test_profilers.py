"""Profilers without a Trainer: the simple table, recorded durations, cProfile reports, report files and
streams, the profiler flag, and the helper that times loop functions."""
from __future__ import annotations

import logging
import os
import pstats
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from statetrainer.errors import MisconfigurationError
from statetrainer.profilers import (AdvancedProfiler, PassThroughProfiler, Profiler, PyTorchProfiler, SimpleProfiler,
                                    actions, resolve_profiler)
from statetrainer.profilers import simple as simple_module


@pytest.fixture
def clock(monkeypatch):
    """A fake perf_counter for the simple profiler: `clock.now` is what it returns."""
    fake = SimpleNamespace(now=0.0)
    monkeypatch.setattr(simple_module, "time", SimpleNamespace(perf_counter=lambda: fake.now))
    return fake


def _run(profiler, clock, action, seconds):
    profiler.start(action)
    clock.now += seconds
    profiler.stop(action)


def test_recorded_durations_lists_every_call_of_every_action(clock):
    profiler = SimpleProfiler()
    _run(profiler, clock, "a", 3.0)
    _run(profiler, clock, "b", 2.0)
    _run(profiler, clock, "a", 1.0)
    assert profiler.recorded_durations == {"a": [3.0, 1.0], "b": [2.0]}
    assert profiler.recorded_durations["never"] == []  # a defaultdict(list), as Lightning's
    clock.now += 4.0  # time outside any action: total wall time is 10 s
    assert profiler.rows() == [("a", 2.0, 2, 4.0, 40.0), ("b", 2.0, 1, 2.0, 20.0)]


def test_a_new_run_starts_from_no_durations_and_keeps_the_last_runs_until_then(clock):
    profiler = SimpleProfiler()
    profiler.setup("fit")
    _run(profiler, clock, "[State]train_batch", 1.0)
    profiler.describe()
    assert profiler.recorded_durations == {"[State]train_batch": [1.0]}  # still readable after fit
    profiler.setup("test")
    assert profiler.recorded_durations == {} and profiler.summary() == ""


@pytest.mark.parametrize("extended", [True, False])
def test_simple_table_is_laid_out_as_lightnings(monkeypatch, extended):
    """Same durations, same clock: the same report text as Lightning's SimpleProfiler."""
    lightning_profilers = pytest.importorskip("lightning.pytorch.profilers")
    monkeypatch.setattr(time, "perf_counter", lambda: 70.0)
    durations = {"on_train_start": [0.773434], "[State]train_batch": [1.5, 2.25, 0.125],
                 "[TrainingLoop].train_dataloader_next": [0.5, 0.75], "on_fit_start": [5.773434]}
    ours, theirs = SimpleProfiler(extended=extended), lightning_profilers.SimpleProfiler(extended=extended)
    for profiler in (ours, theirs):
        profiler.start_time = 60.0
        profiler.recorded_durations.update({name: list(values) for name, values in durations.items()})
    assert ours.summary() == theirs.summary()
    ours.setup("fit")
    theirs._stage = "fit"
    ours.recorded_durations.update(durations)
    ours.start_time = 60.0
    assert ours.summary().splitlines()[0] == theirs.summary().splitlines()[0] == "FIT Profiler Report"


def test_simple_table_rows_in_numbers(clock):
    profiler = SimpleProfiler()
    profiler.setup("fit")
    _run(profiler, clock, "[State]train_batch", 2.0)
    _run(profiler, clock, "[State]train_batch", 4.0)
    _run(profiler, clock, "[Callback]ProgressBar.on_train_batch_end", 0.5)
    clock.now += 3.5
    lines = [line.expandtabs() for line in profiler.summary().splitlines()]
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines if line.startswith("|")]
    assert cells == [["Action", "Mean duration (s)", "Num calls", "Total time (s)", "Percentage %"],
                     ["Total", "-", "3", "10.0", "100 %"],
                     ["[State]train_batch", "3.0", "2", "6.0", "60.0"],
                     ["[Callback]ProgressBar.on_train_batch_end", "0.5", "1", "0.5", "5.0"]]


def test_simple_profiler_refuses_unbalanced_calls():
    profiler = SimpleProfiler()
    profiler.start("a")
    with pytest.raises(ValueError, match=r"profiler action 'a' was started twice without being stopped\."):
        profiler.start("a")
    with pytest.raises(ValueError, match=r"profiler action 'b' was stopped but never started\."):
        profiler.stop("b")


def test_the_report_is_an_info_record_and_is_printed_only_when_logging_would_not_show_it(clock, caplog, capsys,
                                                                                          monkeypatch):
    profiler = SimpleProfiler()
    profiler.setup("validate")
    _run(profiler, clock, "[State]eval_batch", 1.0)
    with caplog.at_level(logging.INFO, logger="statetrainer.profilers"):
        profiler.describe()  # pytest's handler on the root logger shows INFO records
    assert [record.getMessage().splitlines()[0] for record in caplog.records] == ["VALIDATE Profiler Report"]
    assert capsys.readouterr().out == ""
    caplog.clear()
    monkeypatch.setattr(logging.getLogger("statetrainer.profilers"), "propagate", False)  # no handler shows it
    _run(profiler, clock, "[State]eval_batch", 1.0)
    profiler.describe()
    out = capsys.readouterr().out
    assert out.startswith("VALIDATE Profiler Report\n") and "[State]eval_batch" in out


def test_nothing_is_reported_by_other_ranks(clock, caplog, capsys):
    profiler = SimpleProfiler()
    profiler.setup("fit", local_rank=1)
    _run(profiler, clock, "x", 1.0)
    with caplog.at_level(logging.INFO, logger="statetrainer.profilers"):
        profiler.describe()
    assert caplog.records == [] and capsys.readouterr().out == ""


def test_report_files_are_named_stage_filename_and_rank_only_with_several_processes(tmp_path, clock, capsys):
    profiler = SimpleProfiler(dirpath=tmp_path / "prof", filename="perf")
    for stage, rank in (("fit", None), ("test", None), ("fit", 1)):
        profiler.setup(stage, local_rank=rank)
        _run(profiler, clock, f"{stage}-action", 1.0)
        profiler.describe()
    assert capsys.readouterr().out == ""
    assert sorted(os.listdir(tmp_path / "prof")) == ["fit-perf-1.txt", "fit-perf.txt", "test-perf.txt"]
    assert (tmp_path / "prof" / "fit-perf.txt").read_text().startswith("FIT Profiler Report\n")
    assert "test-action" in (tmp_path / "prof" / "test-perf.txt").read_text()


def test_dirpath_keeps_its_type_and_defaults_to_the_runs_log_dir(tmp_path, clock):
    given = SimpleProfiler(dirpath=tmp_path, filename="perf")
    assert isinstance(given.dirpath, Path) and given.dirpath / "x" == tmp_path / "x"
    given.setup("fit", log_dir="/elsewhere")
    assert given.dirpath == tmp_path
    profiler = SimpleProfiler(filename="perf")
    profiler.setup("fit", log_dir=str(tmp_path))
    assert profiler.dirpath == str(tmp_path)
    _run(profiler, clock, "a", 1.0)
    profiler.describe()
    assert os.listdir(tmp_path) == ["fit-perf.txt"]


def _outer_work():
    return sum(i * i for i in range(2000))


def _inner_work():
    return sorted(range(2000), key=lambda i: -i)


def test_advanced_profiler_attributes_functions_to_the_innermost_action(caplog):
    profiler = AdvancedProfiler()
    profiler.setup("fit")
    with profiler.profile("[State]train_batch"):
        _outer_work()
        with profiler.profile("[StateModule]Net.training_step"):
            _inner_work()
        _outer_work()
    outer = profiler.action_report("[State]train_batch")
    inner = profiler.action_report("[StateModule]Net.training_step")
    assert "_outer_work" in outer and "_inner_work" not in outer
    assert "_inner_work" in inner and "_outer_work" not in inner
    (outer_line,) = [line for line in outer.splitlines() if "(_outer_work)" in line]
    assert outer_line.split()[0] == "2"  # ncalls: both calls, before and after the inner action
    with caplog.at_level(logging.INFO, logger="statetrainer.profilers"):
        profiler.describe()
    (record,) = caplog.records
    assert record.getMessage().startswith("FIT Profiler Report\nProfile stats for: [State]train_batch\n")
    assert "Profile stats for: [StateModule]Net.training_step" in record.getMessage()
    assert profiler.profiled_actions == {}


def test_advanced_profiler_limits_lines_and_dumps_stats(tmp_path):
    profiler = AdvancedProfiler(dirpath=tmp_path, filename="adv", line_count_restriction=2, dump_stats=True)
    profiler.setup("fit")
    with profiler.profile("step"):
        _outer_work()
        _inner_work()
    assert "due to restriction <2>" in profiler.action_report("step")
    profiler.describe()
    assert sorted(os.listdir(tmp_path)) == ["fit-adv-step.prof", "fit-adv.txt"]
    stats = pstats.Stats(str(tmp_path / "fit-adv-step.prof"))
    assert any(func[2] == "_inner_work" for func in stats.stats)
    assert "Profile stats for: step" in (tmp_path / "fit-adv.txt").read_text()


def test_advanced_profiler_dumps_without_a_filename_under_the_action_name(tmp_path):
    profiler = AdvancedProfiler(dirpath=tmp_path, dump_stats=True)
    with profiler.profile("a/b"):  # path-unsafe characters become "_"
        _inner_work()
    profiler.describe()
    assert os.listdir(tmp_path) == ["a_b.prof"]


def test_advanced_profiler_refuses_to_stop_an_unknown_action_and_needs_a_folder_to_dump():
    profiler = AdvancedProfiler(dump_stats=True)
    with pytest.raises(ValueError, match=r"profiler action 'x' was stopped but never started\."):
        profiler.stop("x")
    with profiler.profile("y"):
        pass
    with pytest.raises(ValueError, match=r"dump_stats=True\) got dirpath=None"):
        profiler.summary()
    profiler.teardown(None)


def test_pass_through_profiler_records_and_reports_nothing(caplog, capsys):
    profiler = PassThroughProfiler()
    with profiler.profile("a") as name:
        assert name == "a"
    with caplog.at_level(logging.INFO, logger="statetrainer.profilers"):
        profiler.describe()
    assert capsys.readouterr().out == "" and caplog.records == [] and profiler.summary() == ""
    assert (profiler.active, SimpleProfiler().active, AdvancedProfiler().active) == (False, True, True)


def test_resolve_profiler_flag():
    assert type(resolve_profiler(None)) is PassThroughProfiler
    assert type(resolve_profiler("simple")) is SimpleProfiler
    assert type(resolve_profiler("Advanced")) is AdvancedProfiler
    assert type(resolve_profiler("PyTorch")) is PyTorchProfiler
    mine = SimpleProfiler(filename="x")
    assert resolve_profiler(mine) is mine
    assert isinstance(mine, Profiler)
    with pytest.raises(MisconfigurationError, match=r"^`profiler` got 'xla'; accepted: \"simple\", \"advanced\", "
                                                    r"\"pytorch\", a Profiler instance or None\.$"):
        resolve_profiler("xla")
    with pytest.raises(MisconfigurationError, match=r"`profiler` got True"):
        resolve_profiler(True)


def test_timed_costs_nothing_without_an_active_profiler_and_times_with_one(clock):
    def work(a, b=0):
        return a + b
    assert actions.timed(None, actions.BACKWARD, work) is work
    assert actions.timed(PassThroughProfiler(), actions.BACKWARD, work) is work
    profiler = SimpleProfiler()
    timed = actions.timed(profiler, actions.BACKWARD, work)
    assert timed(1, b=2) == 3 and timed.__wrapped__ is work
    assert list(profiler.recorded_durations) == ["[Optimization].backward"]
