"""SimpleProfiler / AdvancedProfiler under a real fit: the rows for states, hooks and the loop's own work
(compared with Lightning's call counts), the report in the log folder, the report as a log record."""
from __future__ import annotations

import logging
import os
import warnings

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st
from statetrainer.profilers import AdvancedProfiler, PassThroughProfiler, SimpleProfiler, actions
from tests.tiny import Tiny

QUIET = dict(enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)


def _loader():
    return DataLoader(TensorDataset(torch.randn(12, 2)), batch_size=4)


def _fit(tmp_path, profiler, logger=False, model=None, **flags):
    flags = {"max_epochs": 2, "num_sanity_val_steps": 0, "limit_val_batches": 1, **flags}
    trainer = st.Trainer(profiler=profiler, default_root_dir=str(tmp_path), logger=logger, **QUIET, **flags)
    trainer.fit(model or Tiny(), _loader(), _loader())
    return trainer


def _calls(profiler) -> dict[str, int]:
    return {name: len(durations) for name, durations in profiler.recorded_durations.items()}


def test_simple_profiler_times_states_hooks_and_the_loops_own_work_with_default_hooks(tmp_path):
    trainer = _fit(tmp_path, "simple")
    calls = _calls(trainer.profiler)
    assert isinstance(trainer.profiler, SimpleProfiler)
    assert calls["[State]train_batch"] == 6  # 3 batches x 2 epochs
    assert calls["[StateModule]Tiny.training_step"] == 6
    assert calls["[StateModule]Tiny.validation_step"] == 2
    # Tiny overrides none of these hooks: the rows are there all the same
    assert {name: calls[name] for name in (actions.FETCH_TRAIN, actions.FETCH_EVAL["validation"], actions.TRANSFER,
                                           actions.BACKWARD, actions.OPTIMIZER_STEP, actions.ZERO_GRAD)} == {
        "[TrainingLoop].train_dataloader_next": 6, "[EvaluationLoop].val_next": 2, "[Loop].batch_to_device": 8,
        "[Optimization].backward": 6, "[Optimization].optimizer_step": 6, "[Optimization].optimizer_zero_grad": 6}
    assert "[StateModule]Tiny.backward" not in calls  # the module's own hook rows only when it overrides them


class Manual(Tiny):
    def __init__(self):
        super().__init__()
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        optimizer = self.optimizers()
        optimizer.zero_grad()
        self.manual_backward(super().training_step(batch, batch_idx))
        if batch_idx % 2 == 1:
            optimizer.step()


def test_manual_optimization_has_backward_and_optimizer_step_rows(tmp_path):
    calls = _calls(_fit(tmp_path, "simple", model=Manual()).profiler)
    assert (calls[actions.BACKWARD], calls[actions.OPTIMIZER_STEP]) == (6, 2)  # batches 1 of each epoch
    assert actions.ZERO_GRAD not in calls  # the user's own optimizer.zero_grad() is not the loop's


# our row -> Lightning's row for the same work ({model} is the module's class name)
_SAME_WORK = {
    actions.FETCH_TRAIN: "[_TrainingEpochLoop].train_dataloader_next",
    actions.FETCH_EVAL["validation"]: "[_EvaluationLoop].val_next",
    actions.TRANSFER: "[Strategy]SingleDeviceStrategy.batch_to_device",
    actions.BACKWARD: "[Strategy]SingleDeviceStrategy.backward",
    actions.OPTIMIZER_STEP: "[LightningModule]{model}.optimizer_step",
    actions.ZERO_GRAD: "[LightningModule]{model}.optimizer_zero_grad",
    "[StateModule]{model}.training_step": "[Strategy]SingleDeviceStrategy.training_step",
    "[StateModule]{model}.validation_step": "[Strategy]SingleDeviceStrategy.validation_step",
}


def _lightning_calls(tmp_path, **flags) -> dict[str, int]:
    import lightning.pytorch as pl
    from lightning.pytorch.profilers import SimpleProfiler as TheirSimple

    class Twin(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        training_step, validation_step, configure_optimizers = Tiny.training_step, Tiny.validation_step, \
            Tiny.configure_optimizers
        val_name, prog_bar = "val", False

    profiler = TheirSimple()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = pl.Trainer(profiler=profiler, default_root_dir=str(tmp_path), logger=False, accelerator="cpu",
                             devices=1, **QUIET, **flags)
        trainer.fit(Twin(), _loader(), _loader())
    return {name: len(durations) for name, durations in profiler.recorded_durations.items()}


def test_loop_rows_count_the_same_calls_as_lightnings(tmp_path):
    pytest.importorskip("lightning")
    flags = dict(max_epochs=2, num_sanity_val_steps=1, limit_val_batches=2, accumulate_grad_batches=2)
    ours = _calls(_fit(tmp_path / "ours", SimpleProfiler(), **flags).profiler)
    theirs = _lightning_calls(tmp_path / "theirs", **flags)
    mine = {name.format(model="Tiny"): ours.get(name.format(model="Tiny")) for name in _SAME_WORK}
    assert None not in mine.values()
    assert mine == {name.format(model="Tiny"): theirs.get(their.format(model="Twin"))
                    for name, their in _SAME_WORK.items()}
    assert ours[actions.OPTIMIZER_STEP] == 4  # steps on batches 1 and 2 (the last) of each epoch


def test_a_profiler_with_a_filename_writes_into_the_trainers_log_dir(tmp_path, capsys, caplog):
    with caplog.at_level(logging.INFO, logger="statetrainer.profilers"):
        trainer = _fit(tmp_path, SimpleProfiler(filename="perf"), logger=True)
    assert capsys.readouterr().out == "" and caplog.records == []
    assert sorted(name for name in os.listdir(trainer.log_dir) if name.endswith(".txt")) == ["fit-perf.txt"]
    with open(os.path.join(trainer.log_dir, "fit-perf.txt")) as handle:
        text = handle.read()
    assert text.startswith("FIT Profiler Report") and "[State]train_batch" in text


def test_each_run_reports_once_through_logging(tmp_path, caplog):
    trainer = st.Trainer(profiler="simple", default_root_dir=str(tmp_path), logger=False, max_epochs=1, **QUIET)
    model = Tiny()
    with caplog.at_level(logging.INFO, logger="statetrainer.profilers"):
        trainer.fit(model, _loader(), _loader())
        trainer.validate(model, _loader(), verbose=False)
    reports = [record.getMessage() for record in caplog.records if record.name == "statetrainer.profilers"]
    assert [report.splitlines()[0] for report in reports] == ["FIT Profiler Report", "VALIDATE Profiler Report"]
    assert "[State]train_batch" in reports[0] and "[State]train_batch" not in reports[1]


def test_advanced_profiler_reports_top_functions_per_action(tmp_path):
    profiler = AdvancedProfiler(dirpath=tmp_path / "prof", filename="adv", line_count_restriction=5)
    _fit(tmp_path, profiler)
    assert os.listdir(tmp_path / "prof") == ["fit-adv.txt"]
    text = (tmp_path / "prof" / "fit-adv.txt").read_text()
    for action in ("[StateModule]Tiny.training_step", actions.FETCH_TRAIN, actions.BACKWARD):
        assert f"Profile stats for: {action}\n" in text
    block = text.split("Profile stats for: [StateModule]Tiny.training_step")[1].split("Profile stats for:")[0]
    assert "function calls" in block and "due to restriction <5>" in block


def test_no_profiler_by_default(tmp_path, capsys, caplog):
    with caplog.at_level(logging.INFO, logger="statetrainer.profilers"):
        trainer = _fit(tmp_path, None)
    assert isinstance(trainer.profiler, PassThroughProfiler)
    assert "Profiler Report" not in capsys.readouterr().out and caplog.records == []


class WithStagedHooks(Tiny):
    def __init__(self):
        super().__init__()
        self.stages: list[tuple[str, str]] = []

    def setup(self, stage):
        self.stages.append(("setup", stage))

    def teardown(self, stage):
        self.stages.append(("teardown", stage))


class StagedData(st.DataModule):
    def prepare_data(self):
        pass

    def setup(self, stage):
        pass

    def teardown(self, stage):
        pass

    def train_dataloader(self):
        return _loader()


@pytest.mark.filterwarnings("ignore:WithStagedHooks defines `validation_step`")
@pytest.mark.parametrize("profiler", ["simple", "advanced"])
def test_setup_and_teardown_are_profiled_with_their_stage_keyword(tmp_path, profiler):
    """A profiled fit of a module and datamodule that override setup/teardown (called with stage= by keyword)."""
    model = WithStagedHooks()
    trainer = st.Trainer(profiler=profiler, default_root_dir=str(tmp_path), logger=False, max_steps=1, **QUIET)
    trainer.fit(model, datamodule=StagedData())
    assert model.stages == [("setup", "fit"), ("teardown", "fit")]
    if profiler == "simple":
        rows = ["[StateModule]WithStagedHooks.setup", "[StateModule]WithStagedHooks.teardown",
                "[DataModule]StagedData.prepare_data", "[DataModule]StagedData.setup", "[DataModule]StagedData.teardown"]
        calls = _calls(trainer.profiler)
        assert {row: calls.get(row) for row in rows} == dict.fromkeys(rows, 1)
