"""ProgressBar driven hook by hook (Lightning's order) with a stand-in trainer, in a pipe and in a terminal."""
from __future__ import annotations

import io
import re
from types import SimpleNamespace

import pytest
import torch

from statetrainer.callbacks.progress_bar import ProgressBar
from statetrainer.errors import MisconfigurationError


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _trainer(**overrides):
    values = dict(loggers=[], progress_bar_metrics={}, num_training_batches=4, max_epochs=2, max_steps=-1,
                  global_step=0, current_epoch=0, sanity_checking=False, state=SimpleNamespace(fn="fit"),
                  num_val_batches=[2], num_sanity_val_batches=[2], num_test_batches=[3], is_global_zero=True)
    values.update(overrides)
    return SimpleNamespace(**values)


def _validate(bar, trainer, batches=(2,)):
    bar.on_validation_start(trainer, None)
    for dl, count in enumerate(batches):
        for i in range(count):
            bar.on_validation_batch_start(trainer, None, None, i, dl)
            bar.on_validation_batch_end(trainer, None, None, None, i, dl)
    bar.on_validation_end(trainer, None)


def _fit(bar, trainer, epochs=2, losses=(1.0, 2.0, 3.0, 4.0), sanity=False, val=True):
    bar.setup(trainer, None, "fit")
    if sanity:
        trainer.sanity_checking = True
        bar.on_sanity_check_start(trainer, None)
        _validate(bar, trainer)
        bar.on_sanity_check_end(trainer, None)
        trainer.sanity_checking = False
    bar.on_train_start(trainer, None)
    for epoch in range(epochs):
        trainer.current_epoch = epoch
        bar.on_train_epoch_start(trainer, None)
        for i, loss in enumerate(losses):
            trainer.global_step += 1
            bar.on_train_batch_end(trainer, None, {"loss": torch.tensor(loss)}, None, i)
        if val:
            trainer.progress_bar_metrics = {"val_loss": torch.tensor(0.125 * (epoch + 1))}
            _validate(bar, trainer)
        bar.on_train_epoch_end(trainer, None)
    bar.on_train_end(trainer, None)


def _counts(lines):
    return [re.search(r"\| (\d+/[\d?]+) ", line).group(1) for line in lines]


def test_piped_output_is_one_plain_line_per_refresh_with_loss_and_prog_bar_metrics():
    out = io.StringIO()
    _fit(ProgressBar(file=out, piped_interval=0), _trainer(), sanity=True)
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert [line.split(":")[0] for line in lines] == (
        ["Sanity Checking DataLoader 0"] * 2
        + ["Epoch 0"] * 4 + ["Validation DataLoader 0"] * 2 + ["Epoch 0"]
        + ["Epoch 1"] * 4 + ["Validation DataLoader 0"] * 2 + ["Epoch 1"])
    assert _counts(lines[2:7]) == ["1/4", "2/4", "3/4", "4/4", "1/2"]
    postfixes = [line.rsplit("it/s", 1)[1] for line in lines if line.startswith("Epoch")]
    assert postfixes == [
        ", loss=1.000]", ", loss=1.500]", ", loss=2.000]", ", loss=2.500]",  # running mean of the losses
        ", loss=2.500, val_loss=0.125]",                                      # redrawn after validation
        ", loss=2.200, val_loss=0.125]", ", loss=2.170, val_loss=0.125]",     # window: the last 20 losses
        ", loss=2.290, val_loss=0.125]", ", loss=2.500, val_loss=0.125]",
        ", loss=2.500, val_loss=0.250]",
    ]


def test_a_slow_pipe_gets_the_first_due_line_and_the_end_of_each_bar():
    out = io.StringIO()
    _fit(ProgressBar(file=out, piped_interval=3600), _trainer(), epochs=2, val=False)
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["Epoch 0", "Epoch 0", "Epoch 1"]
    assert _counts(lines) == ["1/4", "4/4", "4/4"]


def test_terminal_output_redraws_in_place_every_refresh_rate_batches():
    out = Terminal()
    _fit(ProgressBar(refresh_rate=2, file=out), _trainer(num_training_batches=5), epochs=1,
         losses=(1.0,) * 5, val=False)
    text = out.getvalue()
    assert "\r" in text and text.endswith("\n")
    drawn = re.findall(r"\| (\d)/5 ", text)
    # reset at epoch start, batches 2 and 4 (1 and 3 skipped), the last batch always, then the
    # epoch-end postfix and the close redraw the final state in place
    assert drawn == ["0", "2", "4", "5", "5", "5"]


def test_unknown_length_and_max_steps_totals():
    out = io.StringIO()
    _fit(ProgressBar(file=out, piped_interval=0), _trainer(num_training_batches=float("inf")), epochs=1,
         losses=(1.0, 1.0, 1.0), val=False)
    assert re.findall(r" (\d)/\? ", out.getvalue())[-1] == "3"
    bar = ProgressBar()
    bar.setup(_trainer(num_training_batches=10, max_epochs=-1, max_steps=25, global_step=20), None, "fit")
    assert bar.total_train_batches == 5


def test_sanity_check_validation_test_and_several_dataloaders():
    out = io.StringIO()
    trainer = _trainer(num_val_batches=[2, 1], num_sanity_val_batches=[1, 1])
    bar = ProgressBar(file=out, piped_interval=0)
    bar.setup(trainer, None, "fit")
    trainer.sanity_checking = True
    bar.on_sanity_check_start(trainer, None)
    _validate(bar, trainer, batches=(1, 1))
    bar.on_sanity_check_end(trainer, None)
    trainer.sanity_checking = False
    _validate(bar, trainer, batches=(2, 1))
    trainer.state.fn = "test"
    bar.on_test_start(trainer, None)
    for i in range(3):
        bar.on_test_batch_start(trainer, None, None, i, 0)
        bar.on_test_batch_end(trainer, None, None, None, i, 0)
    bar.on_test_end(trainer, None)
    descriptions = [line.split(":")[0] for line in out.getvalue().splitlines()]
    assert list(dict.fromkeys(descriptions)) == ["Sanity Checking DataLoader 0", "Sanity Checking DataLoader 1",
                                                 "Validation DataLoader 0", "Validation DataLoader 1",
                                                 "Testing DataLoader 0"]
    assert out.getvalue().splitlines()[-1].startswith("Testing DataLoader 0: 100%|")


def test_refresh_rate_zero_disable_and_other_ranks_print_nothing():
    for bar, trainer in [(ProgressBar(refresh_rate=0, file=io.StringIO()), _trainer()),
                         (ProgressBar(file=io.StringIO()), _trainer(is_global_zero=False))]:
        _fit(bar, trainer, sanity=True)
        assert bar._file.getvalue() == "" and bar.is_disabled
    bar = ProgressBar(file=io.StringIO())
    bar.disable()
    _fit(bar, _trainer())
    assert bar._file.getvalue() == ""
    bar.enable()
    assert bar.is_enabled


def test_leave_keeps_one_finished_bar_per_epoch_in_a_terminal():
    out = Terminal()
    _fit(ProgressBar(leave=True, file=out), _trainer(), epochs=3, val=False)
    finished = [line for line in out.getvalue().split("\n") if "4/4" in line]
    assert [re.search(r"Epoch (\d)", line.split("\r")[-1]).group(1) for line in finished] == ["0", "1", "2"]


def test_postfix_shows_version_loss_and_prog_bar_metrics_which_win():
    logger = SimpleNamespace(version="abcdef")
    trainer = _trainer(loggers=[logger], progress_bar_metrics={"acc": torch.tensor(0.5), "loss": 9.0})
    bar = ProgressBar(file=io.StringIO())
    bar.setup(trainer, None, "fit")
    bar.on_train_start(trainer, None)
    bar.on_train_epoch_start(trainer, None)
    bar.on_train_batch_end(trainer, None, torch.tensor(3.0), None, 0)
    bar.on_train_batch_end(trainer, None, None, None, 1)  # no loss returned: nothing added
    assert bar.get_metrics(trainer, None) == {"v_num": "cdef", "loss": 9.0, "acc": 0.5}
    trainer.loggers = [SimpleNamespace(version=3)]
    trainer.progress_bar_metrics = {}
    assert bar.get_metrics(trainer, None) == {"v_num": 3, "loss": 3.0}
    bar.on_exception(trainer, None, RuntimeError("x"))
    assert bar.train_progress_bar is None


def test_number_formatting_keeps_a_steady_width():
    from statetrainer.callbacks.progress_bar import _Bar

    assert [_Bar.format_num(v) for v in (0.5, 2.0, 1234.5678, 1e-7, 3, "x", "1")] == [
        "0.500", "2.000", "1.23e+3", "1e-7", "3", "x", "1.000"]


def test_print_goes_above_the_active_bar():
    out = io.StringIO()
    trainer = _trainer()
    bar = ProgressBar(file=out, piped_interval=0)
    bar.print("before", "any", "bar")
    bar.setup(trainer, None, "fit")
    bar.on_train_start(trainer, None)
    bar.on_train_epoch_start(trainer, None)
    bar.print("hello", 1)
    assert "hello 1" in out.getvalue().splitlines()


def test_bad_refresh_rate_is_refused():
    with pytest.raises(MisconfigurationError, match=r"`refresh_rate` got -1; accepted: an int >= 0"):
        ProgressBar(refresh_rate=-1)


def _real_fit(**flags):
    import statetrainer as st
    from torch.utils.data import DataLoader, TensorDataset

    from tests.tiny import Tiny

    loader = DataLoader(TensorDataset(torch.randn(12, 2)), batch_size=4)
    trainer = st.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_model_summary=False,
                         num_sanity_val_steps=1, limit_val_batches=2, **flags)
    trainer.fit(Tiny("val_metric", prog_bar=True), loader, loader)
    return trainer


def test_real_fit_prints_bars_when_captured_and_nothing_when_disabled(capsys):
    trainer = _real_fit()
    assert isinstance(trainer.progress_bar_callback, ProgressBar)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("Epoch")][-1] == "Epoch 1"
    assert any(line.startswith("Sanity Checking DataLoader 0: 100%|") for line in lines)
    final = [line for line in lines if line.startswith("Epoch 1: 100%|")][-1]
    assert re.search(r"3/3 \[.*, loss=\d\.\d+, val_metric=-?\d\.\d+\]$", final)
    _real_fit(enable_progress_bar=False)
    assert capsys.readouterr().out == ""


def test_real_test_and_predict_bars_know_their_totals(capsys):
    import statetrainer as st
    from torch.utils.data import DataLoader, TensorDataset

    class Tiny(st.StateModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def test_step(self, batch, batch_idx):
            self.log("t", self.layer(batch[0]).mean())

        def predict_step(self, batch, batch_idx):
            return self.layer(batch[0])

    loader = DataLoader(TensorDataset(torch.randn(12, 2)), batch_size=4)
    trainer = st.Trainer(logger=False, enable_checkpointing=False, enable_model_summary=False)
    trainer.test(Tiny(), loader, verbose=False)
    trainer.predict(Tiny(), loader)
    lines = capsys.readouterr().out.splitlines()
    assert [_counts([line])[0] for line in lines] == ["1/3", "3/3", "1/3", "3/3"]
    assert [line.split(":")[0] for line in lines] == ["Testing DataLoader 0"] * 2 + ["Predicting DataLoader 0"] * 2
