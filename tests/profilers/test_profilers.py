"""Profilers without a Trainer: the simple table, cProfile reports, report files and the profiler flag."""
from __future__ import annotations

import os
import pstats
from types import SimpleNamespace

import pytest

from statetrainer.errors import MisconfigurationError
from statetrainer.profilers import AdvancedProfiler, PassThroughProfiler, Profiler, SimpleProfiler, resolve_profiler
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


def test_simple_profiler_table_has_mean_calls_total_and_percentage(clock):
    profiler = SimpleProfiler()
    profiler.setup("fit")
    _run(profiler, clock, "[State]training_batch", 2.0)
    _run(profiler, clock, "[State]training_batch", 4.0)
    _run(profiler, clock, "[Callback]ProgressBar.on_train_batch_end", 0.5)
    clock.now += 3.5  # time outside any action: total wall time is 10 s
    assert profiler.rows() == [("[State]training_batch", 3.0, 2, 6.0, 60.0),
                               ("[Callback]ProgressBar.on_train_batch_end", 0.5, 1, 0.5, 5.0)]
    assert profiler.summary().splitlines() == [
        "FIT Profiler Report",
        "-" * 108,
        "| Action                                   | Mean duration (s) | Num calls | Total time (s) | Percentage % |",
        "-" * 108,
        "| Total                                    | -                 | 3         | 10             | 100          |",
        "-" * 108,
        "| [State]training_batch                    | 3                 | 2         | 6              | 60           |",
        "| [Callback]ProgressBar.on_train_batch_end | 0.5               | 1         | 0.5            | 5            |",
        "-" * 108,
    ]


def test_simple_profiler_short_table_and_nesting(clock):
    profiler = SimpleProfiler(extended=False)
    with profiler.profile("[State]epoch"):
        clock.now += 1.0
        with profiler.profile("[StateModule]Net.training_step"):
            clock.now += 0.25
    lines = profiler.summary().splitlines()
    assert lines[0] == "Profiler Report"
    assert lines[2] == "| Action                         | Mean duration (s) | Total time (s) |"
    assert lines[4] == "| Total                          | -                 | 1.25           |"
    assert lines[6:8] == ["| [State]epoch                   | 1.25              | 1.25           |",
                          "| [StateModule]Net.training_step | 0.25              | 0.25           |"]


def test_simple_profiler_refuses_unbalanced_calls():
    profiler = SimpleProfiler()
    profiler.start("a")
    with pytest.raises(ValueError, match=r"profiler action 'a' was started twice without being stopped\."):
        profiler.start("a")
    with pytest.raises(ValueError, match=r"profiler action 'b' was stopped but never started\."):
        profiler.stop("b")


def test_describe_prints_on_rank_zero_and_starts_afresh(clock, capsys):
    profiler = SimpleProfiler()
    profiler.setup("validate", local_rank=0)
    _run(profiler, clock, "[State]validation_batch", 1.0)
    profiler.describe()
    out = capsys.readouterr().out
    assert out.startswith("VALIDATE Profiler Report\n") and "| [State]validation_batch | 1 " in out
    assert profiler.recorded == {} and profiler.summary() == ""
    profiler.describe()  # nothing recorded: nothing printed
    assert capsys.readouterr().out == ""
    other_rank = SimpleProfiler()
    other_rank.setup("fit", local_rank=1)
    _run(other_rank, clock, "x", 1.0)
    other_rank.describe()
    assert capsys.readouterr().out == ""


def test_report_goes_to_a_file_named_after_stage_and_filename(tmp_path, clock, capsys):
    profiler = SimpleProfiler(dirpath=tmp_path / "prof", filename="perf")
    profiler.setup("fit")
    _run(profiler, clock, "a", 1.0)
    profiler.describe()
    profiler.setup("test")
    _run(profiler, clock, "b", 1.0)
    profiler.describe()
    assert capsys.readouterr().out == ""
    assert sorted(os.listdir(tmp_path / "prof")) == ["fit-perf.txt", "test-perf.txt"]
    assert (tmp_path / "prof" / "fit-perf.txt").read_text().startswith("FIT Profiler Report\n")
    assert "| b " in (tmp_path / "prof" / "test-perf.txt").read_text()


def test_a_filename_without_dirpath_goes_to_the_runs_log_dir(tmp_path, clock):
    profiler = SimpleProfiler(filename="perf")
    profiler.setup("fit", local_rank=0, log_dir=str(tmp_path))
    _run(profiler, clock, "a", 1.0)
    profiler.describe()
    assert os.listdir(tmp_path) == ["fit-perf-0.txt"]


def _outer_work():
    return sum(i * i for i in range(2000))


def _inner_work():
    return sorted(range(2000), key=lambda i: -i)


def test_advanced_profiler_attributes_functions_to_the_innermost_action(capsys):
    profiler = AdvancedProfiler()
    profiler.setup("fit")
    with profiler.profile("[State]training_batch"):
        _outer_work()
        with profiler.profile("[StateModule]Net.training_step"):
            _inner_work()
        _outer_work()
    outer = profiler.action_report("[State]training_batch")
    inner = profiler.action_report("[StateModule]Net.training_step")
    assert "_outer_work" in outer and "_inner_work" not in outer
    assert "_inner_work" in inner and "_outer_work" not in inner
    (outer_line,) = [line for line in outer.splitlines() if "(_outer_work)" in line]
    assert outer_line.split()[0] == "2"  # ncalls: both calls, before and after the inner action
    profiler.describe()
    out = capsys.readouterr().out
    assert out.startswith("FIT Profiler Report\nProfile stats for: [State]training_batch\n")
    assert "Profile stats for: [StateModule]Net.training_step" in out
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


def test_advanced_profiler_refuses_to_stop_an_unknown_action_and_needs_a_folder_to_dump():
    profiler = AdvancedProfiler(dump_stats=True)
    with pytest.raises(ValueError, match=r"profiler action 'x' was stopped but never started\."):
        profiler.stop("x")
    with profiler.profile("y"):
        pass
    with pytest.raises(ValueError, match=r"dump_stats=True\) got dirpath=None"):
        profiler.summary()
    profiler.teardown(None)


def test_pass_through_profiler_records_and_prints_nothing(capsys):
    profiler = PassThroughProfiler()
    with profiler.profile("a") as name:
        assert name == "a"
    profiler.describe()
    assert capsys.readouterr().out == "" and profiler.summary() == ""
    assert (profiler.active, SimpleProfiler().active, AdvancedProfiler().active) == (False, True, True)


def test_resolve_profiler_flag():
    assert type(resolve_profiler(None)) is PassThroughProfiler
    assert type(resolve_profiler("simple")) is SimpleProfiler
    assert type(resolve_profiler("Advanced")) is AdvancedProfiler
    mine = SimpleProfiler(filename="x")
    assert resolve_profiler(mine) is mine
    assert isinstance(mine, Profiler)
    with pytest.raises(MisconfigurationError, match=r"^`profiler` got 'pytorch'; accepted: \"simple\", \"advanced\", "
                                                    r"a Profiler instance or None\.$"):
        resolve_profiler("pytorch")
    with pytest.raises(MisconfigurationError, match=r"`profiler` got True"):
        resolve_profiler(True)
