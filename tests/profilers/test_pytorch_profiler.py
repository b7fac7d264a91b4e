"""PyTorchProfiler with the real torch.profiler: ranges per action, chrome traces a viewer can read, the
operator table, the schedule, file names as Lightning's, and arguments refused in one sentence."""
from __future__ import annotations

import json
import os
import re
import warnings

import pytest
import torch
from torch.profiler import ProfilerAction, ProfilerActivity
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st
from statetrainer.errors import MisconfigurationError
from statetrainer.profilers import PyTorchProfiler, actions, pytorch_args

QUIET = dict(enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)


class Net(st.StateModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.log("val", self.layer(batch[0]).mean())

    def test_step(self, batch, batch_idx):
        self.log("test", self.layer(batch[0]).mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loader(n=32):
    return DataLoader(TensorDataset(torch.randn(n, 2)), batch_size=4)


def _trace_events(path) -> list[dict]:
    with open(path) as handle:
        trace = json.load(handle)
    return trace["traceEvents"]


def _names(events) -> set[str]:
    return {event.get("name") for event in events}


@pytest.fixture(scope="module")
def fit_and_test(tmp_path_factory):
    """fit (8 training, 6 validation batches, 2 sanity) then test (8 batches) with the default schedule."""
    folder = tmp_path_factory.mktemp("pytorch_profiler")
    profiler = PyTorchProfiler(dirpath=folder, filename="profile")
    trainer = st.Trainer(max_epochs=1, limit_val_batches=6, profiler=profiler, default_root_dir=str(folder),
                         logger=False, **QUIET)
    model = Net()
    trainer.fit(model, _loader(), _loader())
    fit_events = profiler.function_events
    trainer.test(model, _loader(), verbose=False)
    return folder, profiler, fit_events


def _kinds(files) -> set[tuple]:
    """(stage, step kind) of each trace file, (stage, "report") of each .txt."""
    kinds = set()
    for name in files:
        trace = re.fullmatch(r"(\w+)-profile-.*\.(\w+_step)\.\d+\.pt\.trace\.json", name)
        report = re.fullmatch(r"(\w+)-profile\.txt", name)
        assert trace or report, name
        kinds.add((trace.group(1), trace.group(2)) if trace else (report.group(1), "report"))
    return kinds


def test_one_trace_per_kind_of_step_and_one_report_per_stage(fit_and_test):
    folder, _, _ = fit_and_test
    files = sorted(os.listdir(folder))
    assert _kinds(files) == {("fit", "training_step"), ("fit", "validation_step"), ("fit", "report"),
                             ("test", "test_step"), ("test", "report")}
    assert len(files) == 5
    assert [name for name in files if "training_step" in name][0].startswith(
        "fit-profile-[StateModule]Net.training_step.")


def test_the_chrome_trace_is_json_naming_the_training_step_and_the_states(fit_and_test):
    folder, _, _ = fit_and_test
    (path,) = [folder / name for name in os.listdir(folder) if "training_step" in name]
    events = _trace_events(path)
    names = _names(events)
    for action in ("[StateModule]Net.training_step", "[State]train_batch", actions.FETCH_TRAIN, actions.BACKWARD,
                   actions.OPTIMIZER_STEP, actions.ZERO_GRAD, actions.TRANSFER):
        assert "[st][profile]" + action in names, action
    assert "[st][module]torch.nn.modules.linear.Linear: layer" in names
    steps = [event for event in events if event.get("name") == "[st][profile][StateModule]Net.training_step"]
    assert all(event["ph"] == "X" and event["dur"] >= 0 for event in steps)  # complete events, as viewers expect
    assert any(event.get("name", "").startswith("aten::") for event in events)


def test_the_report_is_the_operator_table_of_the_run(fit_and_test):
    folder, profiler, fit_events = fit_and_test
    text = (folder / "fit-profile.txt").read_text()
    lines = text.splitlines()
    assert lines[:2] == ["FIT Profiler Report", "Profile stats for: records"]
    assert "CPU total" in lines[3] and "# of Calls" in lines[3]
    assert "[st][profile][StateModule]Net.training_step" in text
    assert (folder / "test-profile.txt").read_text().startswith("TEST Profiler Report\n")
    assert any(event.name == "[st][profile][StateModule]Net.validation_step" for event in fit_events)
    assert any(event.name == "[st][profile][StateModule]Net.test_step" for event in profiler.function_events)
    assert profiler.profiler is None and profiler._output_file is None  # closed when the run ended


def test_file_names_follow_lightnings(tmp_path, fit_and_test):
    """The same run under Lightning's PyTorchProfiler writes the same kinds of files under the same pattern."""
    pl = pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.profilers import PyTorchProfiler as TheirProfiler

    class Twin(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        training_step, validation_step, test_step = Net.training_step, Net.validation_step, Net.test_step
        configure_optimizers = Net.configure_optimizers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = pl.Trainer(max_epochs=1, limit_val_batches=6, profiler=TheirProfiler(dirpath=tmp_path,
                             filename="profile"), default_root_dir=str(tmp_path), logger=False, accelerator="cpu",
                             devices=1, **QUIET)
        model = Twin()
        trainer.fit(model, _loader(), _loader())
        trainer.test(model, _loader(), verbose=False)
    folder, _, _ = fit_and_test
    assert _kinds(os.listdir(tmp_path)) == _kinds(os.listdir(folder))


def test_standalone_ranges_nest_and_name_the_actions(tmp_path):
    profiler = PyTorchProfiler(dirpath=tmp_path, filename="profiler", schedule=None)
    with profiler.profile("a"):
        a = torch.ones(42)
        with profiler.profile("b"):
            b = torch.zeros(42)
        with profiler.profile("c"):
            _ = a + b
    profiler.describe()
    assert {event.name for event in profiler.function_events} == {
        "[st][profile]a", "[st][profile]b", "[st][profile]c",
        "aten::add", "aten::empty", "aten::fill_", "aten::ones", "aten::zero_", "aten::zeros"}
    assert (tmp_path / "profiler.txt").read_text().startswith("Profiler Report\nProfile stats for: records\n")


def _table_rows(summary: str) -> list[list[str]]:
    lines = summary.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("---")]
    return [line.split() for line in lines[rules[1] + 1:rules[2]]]


def test_the_table_is_sorted_by_the_key_asked_and_cut_at_row_limit():
    profiler = PyTorchProfiler(schedule=None, sort_by_key="count", row_limit=4, export_to_chrome=False)
    for _ in range(3):
        with profiler.profile("thrice"):
            torch.ones(3).sum()
    with profiler.profile("once"):
        torch.zeros(2)
    rows = _table_rows(profiler.summary())
    calls = [int(row[-1]) for row in rows]
    assert len(rows) == 4 and calls == sorted(calls, reverse=True)
    counted = profiler.function_events.key_averages()
    assert calls[0] == max(average.count for average in counted)
    assert [average.count for average in counted if average.key == "[st][profile]thrice"] == [3]


def test_a_schedule_is_consulted_per_step_of_each_kind_and_decides_what_is_recorded(tmp_path):
    asked = []
    window = torch.profiler.schedule(wait=1, warmup=0, active=2)

    def schedule(step):
        asked.append(step)
        return window(step)
    profiler = PyTorchProfiler(dirpath=tmp_path, schedule=schedule, record_module_names=False)
    trainer = st.Trainer(max_epochs=1, profiler=profiler, default_root_dir=str(tmp_path), logger=False, **QUIET)
    trainer.fit(Net(), _loader())
    assert asked == [0, 1, 2]  # the check when built, then training steps 1 (RECORD) and 2 (RECORD_AND_SAVE)
    (trace,) = [name for name in os.listdir(tmp_path) if name.endswith(".pt.trace.json")]
    steps = [e for e in _trace_events(tmp_path / trace) if e.get("name") == "[st][profile][StateModule]Net.training_step"]
    assert len(steps) == 2  # recorded from the end of step 1 to the end of step 3, when training is done


def test_too_few_steps_for_the_default_schedule_records_every_step_with_a_warning(tmp_path):
    trainer = st.Trainer(max_epochs=1, limit_train_batches=2, profiler="pytorch", default_root_dir=str(tmp_path),
                         logger=True, **QUIET)
    with pytest.warns(UserWarning, match=r"fewer than 5 steps of training_step, too few for the default schedule"):
        trainer.fit(Net(), _loader())
    traces = [name for name in os.listdir(trainer.log_dir) if name.endswith(".pt.trace.json")]
    assert len(traces) == 1 and traces[0].startswith("fit-[StateModule]Net.training_step.")  # no filename given
    assert any(event.name.endswith("training_step") for event in trainer.profiler.function_events)


@pytest.mark.parametrize(("flags", "call", "kind"), [
    (dict(limit_train_batches=7, limit_val_batches=2), "fit", "validation_step"),  # 2 + 2 sanity steps
    (dict(limit_val_batches=4), "validate", "validation_step"),  # no sanity check outside fit
    (dict(limit_test_batches=4), "test", "test_step"),
])
def test_the_too_few_steps_rule_counts_the_steps_of_the_run(tmp_path, flags, call, kind):
    trainer = st.Trainer(max_epochs=1, profiler=PyTorchProfiler(export_to_chrome=False),
                         default_root_dir=str(tmp_path), logger=False, **QUIET, **flags)
    loaders = (_loader(), _loader()) if call == "fit" else (_loader(),)
    with pytest.warns(UserWarning, match=f"fewer than 5 steps of {kind}"):
        getattr(trainer, call)(Net(), *loaders)


def test_no_module_ranges_when_asked_not_to(tmp_path):
    profiler = PyTorchProfiler(dirpath=tmp_path, schedule=None, record_module_names=False, export_to_chrome=False)
    trainer = st.Trainer(max_epochs=1, limit_train_batches=2, profiler=profiler, default_root_dir=str(tmp_path),
                         logger=False, **QUIET)
    trainer.fit(Net(), _loader())
    names = {event.name for event in profiler.function_events}
    assert "[st][profile][StateModule]Net.training_step" in names
    assert not any(name.startswith("[st][module]") for name in names)
    assert not any(name.endswith(".json") for name in os.listdir(tmp_path))


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(sort_by_key="speed"), r"^`sort_by_key` got 'speed'; accepted: one of count, cpu_memory_usage, cpu_time, "),
    (dict(table_kwargs={"sort_by": "count"}),
     r"^`table_kwargs` got the key 'sort_by', which PyTorchProfiler sets from its `sort_by_key` argument; "
     r"accepted keys: header, max_name_column_width, "),
    (dict(table_kwargs={"colour": True}), r"^`table_kwargs` got the key 'colour'; accepted keys: header, "),
    (dict(schedule=3), r"^`schedule` got 3; accepted: a callable such as torch.profiler.schedule"),
    (dict(schedule=lambda step: "record"),
     r"^`schedule` returned 'record' for step 0; accepted: a schedule that returns a torch.profiler.ProfilerAction"),
    (dict(activities=["cpu"]), r"^`activities` got \['cpu'\]; accepted: a non-empty list of "
                               r"torch.profiler.ProfilerActivity members"),
    (dict(row_limit="all"), r"^`row_limit` got 'all'; accepted: an int number of table rows \(-1: all of them\)\.$"),
    (dict(use_gpu=True), r"^PyTorchProfiler got the unknown argument\(s\) use_gpu; accepted besides its own: "
                         r"torch.profiler.profile's acc_events, activities, "),
])
def test_bad_arguments_are_refused_in_one_sentence(kwargs, message):
    with pytest.raises(MisconfigurationError, match=message) as caught:
        PyTorchProfiler(**kwargs)
    assert str(caught.value).count(". ") == 0 and str(caught.value).endswith(".")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_emit_nvtx_needs_cuda():
    with pytest.raises(MisconfigurationError, match=r"^`emit_nvtx` got True; accepted: False on a machine without "
                                                    r"CUDA"):
        PyTorchProfiler(emit_nvtx=True)


def test_cuda_is_profiled_by_default_only_where_available(monkeypatch):
    assert pytorch_args.default_activities() == (
        [ProfilerActivity.CPU, ProfilerActivity.CUDA] if torch.cuda.is_available() else [ProfilerActivity.CPU])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pytorch_args.default_activities() == [ProfilerActivity.CPU, ProfilerActivity.CUDA]
    chosen = pytorch_args.resolve({}, emit_nvtx=False, row_limit=20, sort_by_key=None, table_kwargs=None,
                                  group_by_input_shapes=False)
    assert (chosen.sort_by_key, chosen.torch_kwargs["activities"]) == (
        "cuda_time_total", [ProfilerActivity.CPU, ProfilerActivity.CUDA])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    chosen = pytorch_args.resolve({}, emit_nvtx=False, row_limit=20, sort_by_key=None, table_kwargs=None,
                                  group_by_input_shapes=False)
    assert (chosen.sort_by_key, chosen.torch_kwargs["activities"]) == ("cpu_time_total", [ProfilerActivity.CPU])


def test_group_by_input_shapes_needs_record_shapes():
    with pytest.warns(UserWarning, match=r"group_by_input_shapes=True\) needs record_shapes=True"):
        PyTorchProfiler(group_by_input_shapes=True)
    profiler = PyTorchProfiler(group_by_input_shapes=True, record_shapes=True, schedule=None)
    with profiler.profile("a"):
        torch.ones(2, 3) + torch.ones(2, 3)
    assert "[[2, 3], [2, 3], []]" in profiler.summary()  # the aten::add row carries its input shapes


def test_a_profiler_deep_copies_after_its_report(tmp_path):
    import copy
    profiler = PyTorchProfiler(dirpath=tmp_path, filename="profiler", schedule=None)
    profiler.start("on_train_start")
    torch.tensor(1)
    profiler.describe()
    assert copy.deepcopy(profiler).function_events is not None


def test_the_schedule_gives_each_kind_its_own_count():
    from statetrainer.profilers.step_schedule import StepSchedule
    schedule = StepSchedule(torch.profiler.schedule(wait=0, warmup=0, active=1))
    assert schedule(0) == ProfilerAction.NONE  # no step yet
    schedule.begin("training_step", "[StateModule]Net.training_step")
    assert schedule(1) == ProfilerAction.RECORD_AND_SAVE and schedule.saved_action.endswith("training_step")
    assert schedule(2) == ProfilerAction.NONE  # training saved once: no more training windows
    schedule.begin("validation_step", "[StateModule]Net.validation_step")
    assert schedule(3) == ProfilerAction.RECORD_AND_SAVE
    assert (schedule.count("training_step"), schedule.count("validation_step")) == (1, 1)
