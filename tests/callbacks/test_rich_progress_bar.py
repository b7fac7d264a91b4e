"""RichProgressBar on the real rich: what a user sees in a pseudo-terminal and in a pipe."""
from __future__ import annotations

import io
import pickle
import re
import sys

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import statetrainer as st
from statetrainer.callbacks import ProgressBar, RichProgressBar, RichProgressBarTheme
from statetrainer.errors import MisconfigurationError
from tests.callbacks.terminal import PseudoTerminal, screen
from tests.tiny import Tiny

pytest.importorskip("rich")

ANSI = re.compile(r"\x1b\[")


def _loader(n=12):
    return DataLoader(TensorDataset(torch.randn(n, 2)), batch_size=4)


class Printing(Tiny):
    def training_step(self, batch, batch_idx):
        self.print(f"train message {batch_idx}")
        return super().training_step(batch, batch_idx)


def _fit(bar, model=None, **flags):
    options = dict(max_epochs=2, logger=False, enable_checkpointing=False, enable_model_summary=False,
                   limit_val_batches=2)
    options.update(flags)
    trainer = st.Trainer(callbacks=[bar], **options)
    trainer.fit(model if model is not None else Printing("val_metric", prog_bar=True), _loader(), _loader())
    return trainer


def test_in_a_pseudo_terminal_the_display_redraws_and_prints_stay_whole():
    with PseudoTerminal(columns=120) as term:
        bar = RichProgressBar(console_kwargs={"file": term.file, "width": 120})
        trainer = _fit(bar)
    assert "\r" in term.raw and ANSI.search(term.raw)  # drawn as a terminal display, in colour
    shown = screen(term.raw)
    assert [line for line in shown if "message" in line] == [f"train message {i}" for i in (0, 1, 2) * 2]
    bars = [line for line in shown if "━" in line]
    assert len(bars) == 1  # sanity check and validation bars are hidden when they end, one training bar reused
    assert re.fullmatch(r"Epoch 1/1 +━+ 3/3 \d:\d\d:\d\d • \d:\d\d:\d\d [\d.]+it/s val_metric: -?\d\.\d{3}", bars[0])
    assert shown[-1].startswith("Fit ended: max_epochs=2 reached: 2 epochs completed, global_step=6.")
    assert trainer.progress_bar_callback is bar and sum(isinstance(cb, ProgressBar) for cb in trainer.callbacks) == 1


def test_piped_output_is_plain_lines_with_the_final_state():
    out = io.StringIO()
    _fit(RichProgressBar(console_kwargs={"file": out, "width": 120}))
    text = out.getvalue()
    assert not ANSI.search(text) and "\r" not in text
    lines = text.splitlines()
    assert lines[:6] == [f"train message {i}" for i in (0, 1, 2) * 2]
    assert re.fullmatch(r"Epoch 1/1 +━+ 3/3 .*val_metric: -?\d\.\d{3}", lines[6])
    assert lines[7].startswith("Fit ended:") and len(lines) == 8


def test_leave_keeps_a_bar_per_epoch_and_the_theme_styles_it(tmp_path):
    theme = RichProgressBarTheme(metrics_format=".1f", metrics_text_delimiter=" | ", progress_bar_finished="red")
    with PseudoTerminal(columns=120) as term:
        _fit(RichProgressBar(leave=True, theme=theme, console_kwargs={"file": term.file, "width": 120}), max_epochs=3,
             model=Tiny("a", prog_bar=True), logger=st.loggers.CSVLogger(save_dir=tmp_path))
    bars = [line for line in screen(term.raw) if "━" in line]
    assert [line.split()[1] for line in bars] == ["0/2", "1/2", "2/2"]
    assert all(re.search(r"v_num: 0 \| a: -?\d\.\d$", line) for line in bars)
    assert "\x1b[31m━" in term.raw  # the finished bar in the theme's red


def test_test_and_predict_bars_per_dataloader():
    class Model(Tiny):
        def test_step(self, batch, batch_idx, dataloader_idx=0):
            self.log("t", self.layer(batch[0]).mean())

        def predict_step(self, batch, batch_idx, dataloader_idx=0):
            return self.layer(batch[0])

    out = io.StringIO()
    bar = RichProgressBar(console_kwargs={"file": out, "width": 120})
    trainer = st.Trainer(callbacks=[bar], logger=False, enable_checkpointing=False, enable_model_summary=False)
    trainer.test(Model(), [_loader(), _loader(8)], verbose=False)
    trainer.predict(Model(), _loader())
    shown = [re.match(r"(\w+) ━+ (\d/\d) ", line).groups() for line in out.getvalue().splitlines()]
    # as in Lightning, a dataloader's bar replaces the previous one's: the last one stays
    assert shown == [("Testing", "2/2"), ("Predicting", "3/3")]


def test_refresh_rate_zero_draws_nothing_and_prints_plainly(capsys):
    out = io.StringIO()
    bar = RichProgressBar(refresh_rate=0, console_kwargs={"file": out})
    _fit(bar)
    assert out.getvalue() == "" and bar.is_disabled
    assert capsys.readouterr().out.splitlines() == [f"train message {i}" for i in (0, 1, 2) * 2]
    with pytest.raises(MisconfigurationError, match=r"`refresh_rate` got 1.5; accepted: an int >= 0"):
        RichProgressBar(refresh_rate=1.5)


def test_redraws_are_limited_to_refresh_rate_per_second():
    with PseudoTerminal() as fast_term:
        _fit(RichProgressBar(refresh_rate=1000, console_kwargs={"file": fast_term.file}), model=Tiny(),
             num_sanity_val_steps=0, limit_val_batches=0, max_epochs=5)
    with PseudoTerminal() as slow_term:
        _fit(RichProgressBar(refresh_rate=1, console_kwargs={"file": slow_term.file}), model=Tiny(),
             num_sanity_val_steps=0, limit_val_batches=0, max_epochs=5)
    fast, slow = (term.raw.count("Epoch") for term in (fast_term, slow_term))
    # every batch redraws at 1000/s; at 1/s only the forced redraws (epoch starts and ends, last batches)
    assert fast - slow >= 5


def test_the_bar_pickles_and_the_trainer_finds_it():
    bar = RichProgressBar(console_kwargs={"file": io.StringIO()})
    _fit(bar, max_epochs=1)
    copy = pickle.loads(pickle.dumps(bar))
    assert copy.progress is None and copy._console is None and copy.refresh_rate == 100
    with pytest.raises(TypeError, match="has no train bar now"):
        copy.train_progress_bar


def test_without_rich_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "rich", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install statetrainer\[rich\]"):
        RichProgressBar()
