"""TQDMProgressBar: driven hook by hook with a stand-in trainer (in a pipe and in a terminal), then in
real runs (a pseudo-terminal, captured output, Lightning's totals for the same run)."""
from __future__ import annotations

import io
import pickle
import re
import sys
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st
from statetrainer.callbacks import ProgressBar, TQDMProgressBar
from statetrainer.callbacks.progress.tqdm_progress import Tqdm
from statetrainer.errors import MisconfigurationError
from tests.callbacks.terminal import PseudoTerminal, screen
from tests.tiny import Tiny


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _trainer(**overrides):
    values = dict(loggers=[], progress_bar_metrics={}, num_training_batches=4, max_epochs=2, max_steps=-1,
                  global_step=0, current_epoch=0, sanity_checking=False,
                  state=SimpleNamespace(fn="fit", stop_reason="max_epochs=2 reached."), num_val_batches=[2],
                  num_sanity_val_batches=[2], num_test_batches=[3], num_predict_batches=[3], is_global_zero=True,
                  check_val_every_n_epoch=1, enable_validation=True, checkpoint_callback=None, log_dir=None)
    values.update(overrides)
    return SimpleNamespace(**values)


def _validate(bar, trainer, batches=(2,)):
    bar.on_validation_start(trainer, None)
    for dl, count in enumerate(batches):
        for i in range(count):
            bar.on_validation_batch_start(trainer, None, None, i, dl)
            bar.on_validation_batch_end(trainer, None, None, None, i, dl)
    bar.on_validation_end(trainer, None)


def _fit(bar, trainer, epochs=2, batches=4, sanity=False, val=True):
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
        for i in range(batches):
            trainer.global_step += 1
            trainer.progress_bar_metrics = {"train_loss": torch.tensor(float(i + 1))}
            bar.on_train_batch_end(trainer, None, None, None, i)
        if val:
            trainer.progress_bar_metrics = {"val_loss": torch.tensor(0.125 * (epoch + 1))}
            _validate(bar, trainer)
        bar.on_train_epoch_end(trainer, None)
    bar.on_train_end(trainer, None)
    bar.on_fit_end(trainer, None)
    bar.teardown(trainer, None, "fit")


def _counts(lines):
    return [re.search(r"\| (\d+/[\d?]+) ", line).group(1) for line in lines]


# ---------------------------------------------------------------- driven hook by hook
def test_piped_output_is_one_plain_line_per_refresh_with_the_prog_bar_metrics():
    out = io.StringIO()
    _fit(TQDMProgressBar(file=out, piped_interval=0), _trainer(), sanity=True)
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert [line.split(":")[0] for line in lines] == (
        ["Sanity Checking DataLoader 0"] * 2
        + ["Epoch 0"] * 4 + ["Validation DataLoader 0"] * 2 + ["Epoch 0"]
        + ["Epoch 1"] * 4 + ["Validation DataLoader 0"] * 2 + ["Epoch 1"]
        + ["Fit ended"])
    assert _counts(lines[2:7]) == ["1/4", "2/4", "3/4", "4/4", "1/2"]
    postfixes = [line.rsplit("it/s", 1)[1] for line in lines if line.startswith("Epoch 0")]
    assert postfixes == [", train_loss=1.000]", ", train_loss=2.000]", ", train_loss=3.000]",
                         ", train_loss=4.000]", ", val_loss=0.125]"]  # redrawn after validation
    assert lines[-1] == ("Fit ended: max_epochs=2 reached. | best checkpoint: none (checkpointing is off) "
                         "| logs: none (no logger)")


def test_a_slow_pipe_gets_the_first_due_line_and_the_end_of_each_bar():
    out = io.StringIO()
    _fit(TQDMProgressBar(file=out, piped_interval=3600), _trainer(), epochs=2, val=False)
    lines = out.getvalue().splitlines()[:-1]  # the last line is the end-of-fit line
    assert [line.split(":")[0] for line in lines] == ["Epoch 0", "Epoch 0", "Epoch 1"]
    assert _counts(lines) == ["1/4", "4/4", "4/4"]


def test_terminal_output_redraws_in_place_every_refresh_rate_batches():
    out = Terminal()
    _fit(TQDMProgressBar(refresh_rate=2, file=out), _trainer(num_training_batches=5), epochs=1, batches=5, val=False)
    text = out.getvalue()
    drawn = re.findall(r"\| (\d)/5 ", text)
    # the reset at epoch start draws 0/5, then batches 2 and 4 (1 and 3 skipped), the last batch always,
    # then the epoch-end postfix and the close redraw the final state in place
    assert drawn == ["0", "2", "4", "5", "5", "5"]
    assert screen(text)[0].startswith("Epoch 0: 100%|") and screen(text)[0].endswith("train_loss=5.000]")


def test_unknown_length_and_max_steps_totals():
    out = io.StringIO()
    _fit(TQDMProgressBar(file=out, piped_interval=0), _trainer(num_training_batches=float("inf")), epochs=1,
         batches=3, val=False)
    assert re.findall(r" (\d)/\? ", out.getvalue())[-1] == "3"
    bar = TQDMProgressBar()
    trainer = _trainer(num_training_batches=10, max_epochs=-1, max_steps=25, global_step=20)
    bar.setup(trainer, None, "fit")
    assert bar.total_train_batches == 5
    bar.teardown(trainer, None, "fit")


def test_total_val_batches_is_zero_in_epochs_that_do_not_validate():
    bar = TQDMProgressBar()
    trainer = _trainer(num_val_batches=[2, 3], check_val_every_n_epoch=2)
    bar.setup(trainer, None, "fit")
    assert [bar.total_val_batches for trainer.current_epoch in range(4)] == [0, 5, 0, 5]
    trainer.enable_validation = False
    assert bar.total_val_batches == 0
    bar.teardown(trainer, None, "fit")


def test_sanity_check_validation_test_and_several_dataloaders():
    out = io.StringIO()
    trainer = _trainer(num_val_batches=[2, 1], num_sanity_val_batches=[1, 1])
    bar = TQDMProgressBar(file=out, piped_interval=0)
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
    bar.teardown(trainer, None, "test")
    descriptions = [line.split(":")[0] for line in out.getvalue().splitlines()]
    assert list(dict.fromkeys(descriptions)) == ["Sanity Checking DataLoader 0", "Sanity Checking DataLoader 1",
                                                 "Validation DataLoader 0", "Validation DataLoader 1",
                                                 "Testing DataLoader 0"]
    assert out.getvalue().splitlines()[-1].startswith("Testing DataLoader 0: 100%|")


def test_refresh_rate_zero_disable_and_other_ranks_print_nothing():
    for bar, trainer in [(TQDMProgressBar(refresh_rate=0, file=io.StringIO()), _trainer()),
                         (TQDMProgressBar(file=io.StringIO()), _trainer(is_global_zero=False))]:
        _fit(bar, trainer, sanity=True)
        assert bar._file.getvalue() == "" and bar.is_disabled
        assert bar.train_progress_bar.total == 4  # the bars exist (disabled) and know their totals
    bar = TQDMProgressBar(file=io.StringIO())
    bar.disable()
    _fit(bar, _trainer())
    assert bar._file.getvalue() == ""
    bar.enable()
    assert bar.is_enabled


def test_leave_keeps_one_finished_bar_per_epoch_in_a_terminal():
    out = Terminal()
    bar = TQDMProgressBar(leave=True, file=out)
    with mock.patch.object(bar, "init_train_tqdm", wraps=bar.init_train_tqdm) as init:
        _fit(bar, _trainer(), epochs=3, val=False)
    assert init.call_count == 4  # as Lightning: at train start, then once per epoch
    shown = screen(out.getvalue())
    assert [re.match(r"Epoch (\d): 100%", line).group(1) for line in shown[:-1]] == ["0", "1", "2"]
    assert shown[-1].startswith("Fit ended:")


def test_without_leave_one_training_bar_is_made_and_restarted():
    bar = TQDMProgressBar(file=Terminal())
    with mock.patch.object(bar, "init_train_tqdm", wraps=bar.init_train_tqdm) as init:
        _fit(bar, _trainer(), epochs=3, val=False)
    assert init.call_count == 1
    assert bar.train_progress_bar.n == bar.train_progress_bar.total == 4


def test_postfix_shows_the_version_and_prog_bar_metrics():
    trainer = _trainer(loggers=[SimpleNamespace(version="abcdef")], progress_bar_metrics={"acc": torch.tensor(0.5)})
    bar = TQDMProgressBar(file=io.StringIO())
    assert bar.get_metrics(trainer, None) == {"v_num": "cdef", "acc": 0.5}
    trainer.loggers = [SimpleNamespace(version=3), SimpleNamespace(version=3)]
    trainer.progress_bar_metrics = {"v_num": 7.0}
    with pytest.warns(UserWarning, match="the progress bar shows v_num itself"):
        assert bar.get_metrics(trainer, None) == {"v_num": 7.0}


def test_number_formatting_keeps_a_steady_width():
    assert [Tqdm.format_num(v) for v in (0.5, 2.0, 1234.5678, 1e-7, 1e-5, 3, "x", "1", "10000")] == [
        "0.500", "2.000", "1.23e+3", "1e-7", "1e-5", "3", "x", "1.000", "10000"]


def test_print_goes_above_the_open_bar_and_plainly_when_none_is_open():
    out = io.StringIO()
    trainer = _trainer()
    bar = TQDMProgressBar(file=out, piped_interval=0)
    bar.setup(trainer, None, "fit")
    bar.on_train_start(trainer, None)
    bar.on_train_epoch_start(trainer, None)
    with mock.patch("tqdm.tqdm.write") as write:
        bar.print("hello", 1, sep="-", end="", flush=True)
    write.assert_called_once_with("hello-1", end="", file=out)
    bar.print("above", "the bar")
    bar.on_train_end(trainer, None)
    bar.teardown(trainer, None, "fit")
    assert "above the bar" in out.getvalue().splitlines()
    with mock.patch("builtins.print") as plain:
        bar.print("after", end="!")  # every bar closed: a plain print to the bar's file
    plain.assert_called_once_with("after", end="!", file=out)


def test_refresh_rate_is_checked_and_read_from_the_environment(monkeypatch):
    with pytest.raises(MisconfigurationError, match=r"`refresh_rate` got -1; accepted: an int >= 0"):
        TQDMProgressBar(refresh_rate=-1)
    monkeypatch.setenv("TQDM_MINITERS", "3")
    assert [TQDMProgressBar(refresh_rate=r).refresh_rate for r in (0, 1, 5)] == [3, 3, 5]
    monkeypatch.delenv("TQDM_MINITERS")
    monkeypatch.setenv("COLAB_GPU", "1")
    assert [TQDMProgressBar(refresh_rate=r).refresh_rate for r in (1, 19)] == [20, 19]


def test_progress_bar_is_the_base_class():
    assert issubclass(TQDMProgressBar, ProgressBar) and issubclass(st.callbacks.RichProgressBar, ProgressBar)
    assert type(st.Trainer().progress_bar_callback) is TQDMProgressBar  # the default bar

    class Mine(ProgressBar):  # a bar of one's own starts from the blank base, as in Lightning
        def __init__(self):
            super().__init__()
            self.enabled = True

        def disable(self):
            self.enabled = False

    mine = Mine()
    assert type(mine) is Mine and not hasattr(mine, "train_progress_bar")
    with pytest.raises(TypeError, match="Mine.trainer is not set yet"):
        mine.trainer
    with pytest.raises(NotImplementedError, match="must implement enable"):
        mine.enable()
    from statetrainer.callbacks.progress_bar import ProgressBar as EarlierName
    assert EarlierName is TQDMProgressBar


def test_bars_are_readable_after_their_loop_and_a_type_error_before():
    bar = TQDMProgressBar()
    with pytest.raises(TypeError, match="train_progress_bar is not set yet"):
        bar.train_progress_bar
    bar = TQDMProgressBar(file=io.StringIO())
    _fit(bar, _trainer(), epochs=1, sanity=True)
    assert (bar.train_progress_bar.n, bar.train_progress_bar.total, bar.train_progress_bar.leave) == (4, 4, True)
    assert (bar.val_progress_bar.n, bar.val_progress_bar.total, bar.val_progress_bar.leave) == (2, 2, False)


# ---------------------------------------------------------------- real runs
def _loader(n=12):
    return DataLoader(TensorDataset(torch.randn(n, 2)), batch_size=4)


class Printing(Tiny):
    def training_step(self, batch, batch_idx):
        self.print(f"train message {batch_idx}")
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        self.trainer.print(f"validation message {batch_idx}")
        return super().validation_step(batch, batch_idx)


def test_in_a_terminal_prints_and_traces_go_above_the_bar_and_leave_it_whole(tmp_path, monkeypatch):
    with PseudoTerminal(columns=120) as term:
        monkeypatch.setattr(sys, "stdout", term.file)
        trainer = st.Trainer(max_epochs=2, default_root_dir=tmp_path, logger=False, enable_model_summary=False,
                             num_sanity_val_steps=0, limit_val_batches=1)
        with trainer.trace(signals=["on_train_epoch_start"]):
            trainer.fit(Printing("val_metric", prog_bar=True), _loader(), _loader())
        monkeypatch.undo()
    assert "\r" in term.raw  # drawn in place: a terminal bar
    shown = screen(term.raw)
    messages = [line for line in shown if "message" in line or line.startswith("state=")]
    assert messages == [
        "state=epoch_start signal=on_train_epoch_start epoch=0 step=0",
        "train message 0", "train message 1", "train message 2", "validation message 0",
        "state=epoch_start signal=on_train_epoch_start epoch=1 step=3",
        "train message 0", "train message 1", "train message 2", "validation message 0"]
    bars = [line for line in shown if line.startswith("Epoch")]
    assert len(bars) == 1 and re.fullmatch(r"Epoch 1: 100%\|\S+\| 3/3 \[.*, val_metric=-?\d\.\d+\]", bars[0])
    assert shown[-1].startswith("Fit ended: max_epochs=2 reached: 2 epochs completed, global_step=6. | "
                                f"best checkpoint: {tmp_path}")


def test_captured_output_is_plain_lines_and_nothing_when_disabled(capsys):
    trainer = st.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_model_summary=False,
                         num_sanity_val_steps=1, limit_val_batches=2)
    trainer.fit(Printing("val_metric", prog_bar=True), _loader(), _loader())
    assert isinstance(trainer.progress_bar_callback, TQDMProgressBar)
    lines = capsys.readouterr().out.splitlines()
    assert "\r" not in "".join(lines)
    assert [line for line in lines if "message" in line][:4] == [
        "validation message 0", "train message 0", "train message 1", "train message 2"]
    final = [line for line in lines if line.startswith("Epoch 1: 100%|")][-1]
    assert re.search(r"3/3 \[.*, val_metric=-?\d\.\d+\]$", final)
    assert lines[-1].startswith("Fit ended: max_epochs=2 reached")

    quiet = dict(max_epochs=2, logger=False, enable_checkpointing=False, enable_model_summary=False,
                 enable_progress_bar=False)
    st.Trainer(**quiet).fit(Tiny(), _loader())
    assert capsys.readouterr().out == ""
    with mock.patch("builtins.print") as plain:  # without a bar, self.print is print() with the same arguments
        st.Trainer(**quiet).fit(Printing(), _loader())
    assert plain.call_args_list[0] == mock.call("train message 0")


def test_end_of_fit_line_follows_the_bar_not_the_model_summary_flag(tmp_path, capsys):
    trainer = st.Trainer(max_epochs=1, default_root_dir=tmp_path, enable_model_summary=False)
    trainer.fit(Tiny(), _loader())
    last = capsys.readouterr().out.splitlines()[-1]
    best = trainer.checkpoint_callback.best_model_path
    assert last == (f"Fit ended: max_epochs=1 reached: 1 epochs completed, global_step=3. | best checkpoint: {best} "
                    f"| logs: {trainer.log_dir}")
    bar = TQDMProgressBar()
    bar.disable()
    st.Trainer(max_epochs=1, default_root_dir=tmp_path, callbacks=[bar]).fit(Tiny(), _loader())
    assert "Fit ended" not in capsys.readouterr().out


def test_test_and_predict_bars_know_their_totals(capsys):
    class Model(Tiny):
        def test_step(self, batch, batch_idx):
            self.log("t", self.layer(batch[0]).mean())

        def predict_step(self, batch, batch_idx, dataloader_idx=0):
            return self.layer(batch[0])

    trainer = st.Trainer(logger=False, enable_checkpointing=False, enable_model_summary=False)
    trainer.test(Model(), _loader(), verbose=False)
    trainer.predict(Model(), [_loader(), _loader(8)])
    lines = capsys.readouterr().out.splitlines()
    assert [(line.split(":")[0], _counts([line])[0]) for line in lines] == [
        ("Testing DataLoader 0", "1/3"), ("Testing DataLoader 0", "3/3"),
        ("Predicting DataLoader 0", "1/3"), ("Predicting DataLoader 0", "3/3"),
        ("Predicting DataLoader 1", "2/2")]  # within piped_interval of the last line: only the end
    bar = trainer.progress_bar_callback
    assert (bar.predict_progress_bar.n, bar.predict_progress_bar.total, bar.test_progress_bar.total) == (2, 2, 3)


def test_the_bar_pickles_before_and_after_runs(tmp_path):
    bar = TQDMProgressBar()
    trainer = st.Trainer(max_epochs=1, callbacks=[bar], logger=False, enable_checkpointing=False,
                         enable_model_summary=False)
    pickle.dumps(bar)
    trainer.fit(Tiny(), _loader(), _loader())
    copy = pickle.loads(pickle.dumps(bar))
    assert copy.refresh_rate == 1 and copy._train_progress_bar is None and copy._trainer is None


def test_two_progress_bars_are_refused():
    with pytest.raises(MisconfigurationError, match="`callbacks` got 2 progress bars"):
        st.Trainer(callbacks=[TQDMProgressBar(), TQDMProgressBar()])


def _totals_seen(lib):
    """Lightning's or statetrainer's bar totals at each training epoch end, for the same run."""
    Trainer, Module = (st.Trainer, st.StateModule) if lib == "st" else _lightning()
    seen = []

    class Model(Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):
            return self.layer(batch[0]).sum()

        def validation_step(self, batch, batch_idx, dataloader_idx=0):
            self.log("v", self.layer(batch[0]).sum())

        def on_train_epoch_end(self):
            bar = self.trainer.progress_bar_callback
            seen.append((bar.total_train_batches, bar.total_val_batches))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    trainer = Trainer(max_epochs=4, check_val_every_n_epoch=2, limit_val_batches=2, num_sanity_val_steps=0,
                      logger=False, enable_checkpointing=False, enable_model_summary=False, enable_progress_bar=True)
    trainer.fit(Model(), _loader(), [_loader(), _loader(4)])
    return seen


def _lightning():
    lightning = pytest.importorskip("lightning.pytorch")
    return lightning.Trainer, lightning.LightningModule


def test_totals_match_lightning_for_the_same_run(capsys):
    theirs = _totals_seen("lightning")
    assert _totals_seen("st") == theirs == [(3, 0), (3, 3), (3, 0), (3, 3)]
