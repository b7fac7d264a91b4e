"""ProgressBar: tqdm bars for training (one per epoch), validation, testing and prediction.

The postfix shows the experiment version (``v_num``), the training ``loss`` (mean of the last 20
training steps' losses) and every metric logged with ``prog_bar=True``. In a terminal the bars
redraw in place; when the output is not a terminal (piped, redirected to a file, captured by CI)
each refresh becomes one plain line, at most one every ``piped_interval`` seconds plus the last
one of each bar, so logs stay readable.
"""
from __future__ import annotations

import math
import re
import sys
import time
from collections import deque
from contextlib import contextmanager
from typing import Any, Iterator, TextIO

import torch
from tqdm import tqdm

from statetrainer.callbacks.callback import Callback
from statetrainer.errors import flag_error

__all__ = ["ProgressBar"]

_EVAL_TOTALS = {"sanity_check": "num_sanity_val_batches", "validate": "num_val_batches",
                "test": "num_test_batches", "predict": "num_predict_batches"}
_EVAL_TITLES = {"sanity_check": "Sanity Checking", "validate": "Validation", "test": "Testing",
                "predict": "Predicting"}


class _Bar(tqdm):
    """A tqdm bar whose postfix numbers keep a steady width (0.5 -> 0.500) so the line does not jump."""

    @staticmethod
    def format_num(n: Any) -> str:
        text = tqdm.format_num(n) if not isinstance(n, str) else n
        if isinstance(n, (float, str)) and "e" not in text:
            try:
                float(text)
            except ValueError:
                return text
            if "." not in text and len(text) < 5:
                text += "."
            text += "0" * (5 - len(text))
        return text


class _LineWriter:
    """For a stream that is not a terminal: writes only while the bar is told to draw (``open``), each
    redraw as one whole line, and skips a line equal to the previous one apart from its timings."""

    _TIMING = re.compile(r"\[[^\]]*?(?:it/s|s/it)")

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.open = False
        self.last = ""

    def write(self, text: str) -> None:
        if not self.open:
            return
        for part in text.replace("\x1b[A", "").replace("\r", "\n").split("\n"):
            part = part.rstrip()
            key = self._TIMING.sub("", part)
            if part and key != self.last:
                self.stream.write(part + "\n")
                self.last = key

    def flush(self) -> None:
        self.stream.flush()


class ProgressBar(Callback):
    """Lightning's TQDMProgressBar behaviour on tqdm.

    Args:
        refresh_rate: redraw every this many batches (and at a bar's last batch); 0 disables the bars.
        process_position: move the bars this many pairs of lines down (several trainers at once).
        leave: keep each finished training epoch's bar on screen (a new bar per epoch).
        file: where to draw; default ``sys.stdout`` at the time a bar opens.
        piped_interval: seconds between lines when the output is not a terminal.
    """

    BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]"
    LOSS_WINDOW = 20

    def __init__(self, refresh_rate: int = 1, process_position: int = 0, leave: bool = False,
                 file: TextIO | None = None, piped_interval: float = 5.0) -> None:
        if not isinstance(refresh_rate, int) or isinstance(refresh_rate, bool) or refresh_rate < 0:
            raise flag_error("refresh_rate", refresh_rate, "an int >= 0 (0 disables the bars)")
        self._refresh_rate = refresh_rate
        self._process_position = process_position
        self._leave = leave
        self._file = file
        self._piped_interval = piped_interval
        self._enabled = True
        self._trainer: Any = None
        self._losses: deque = deque(maxlen=self.LOSS_WINDOW)
        self._eval_dataloader: int | None = None
        self._train_bar_used = False
        self.train_progress_bar: tqdm | None = None
        self.val_progress_bar: tqdm | None = None
        self.test_progress_bar: tqdm | None = None
        self.predict_progress_bar: tqdm | None = None

    def __getstate__(self) -> dict:
        return {key: None if isinstance(value, tqdm) else value for key, value in vars(self).items()}

    # ------------------------------------------------------------------ settings
    @property
    def refresh_rate(self) -> int:
        return self._refresh_rate

    @property
    def is_enabled(self) -> bool:
        return self._enabled and self._refresh_rate > 0

    @property
    def is_disabled(self) -> bool:
        return not self.is_enabled

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    # ------------------------------------------------------------------ bars
    def _stream(self) -> tuple[Any, bool]:
        stream = self._file if self._file is not None else sys.stdout
        is_tty = bool(getattr(stream, "isatty", lambda: False)())
        return (stream if is_tty else _LineWriter(stream)), is_tty

    def _new_bar(self, description: str, leave: bool, offset: int = 0) -> tqdm:
        stream, is_tty = self._stream()
        bar = _Bar(desc=description, position=2 * self._process_position + offset if is_tty else None,
                   disable=self.is_disabled, leave=leave, dynamic_ncols=is_tty,
                   file=stream, smoothing=0, bar_format=self.BAR_FORMAT, mininterval=0)
        bar.line_writer = None if is_tty else stream
        return bar

    @staticmethod
    @contextmanager
    def _writing(bar: tqdm) -> Iterator[None]:
        writer = getattr(bar, "line_writer", None)
        if writer is not None:
            writer.open = True
        try:
            yield
        finally:
            if writer is not None:
                writer.open = False

    def _should_draw(self, bar: tqdm, current: int) -> bool:
        if bar.disable or not self.is_enabled:
            return False
        if current == bar.total:
            return True
        if current % self._refresh_rate:
            return False
        if getattr(bar, "line_writer", None) is not None:
            now = time.monotonic()
            if now - getattr(bar, "last_drawn", -math.inf) < self._piped_interval:
                return False
            bar.last_drawn = now
        return True

    @staticmethod
    def _restart(bar: tqdm, total: float | None, description: str) -> None:
        bar.reset(total=None if total is None or math.isinf(total) or math.isnan(total) else int(total))
        bar.set_description(description, refresh=False)

    def _draw(self, bar: tqdm, current: int, postfix: dict | None = None) -> None:
        if bar.disable:
            return
        bar.n = current
        if postfix is not None:
            bar.set_postfix(postfix, refresh=False)
        with self._writing(bar):
            bar.refresh()

    def _show_postfix(self, bar: tqdm | None, postfix: dict) -> None:
        if bar is not None and not bar.disable:
            with self._writing(bar):
                bar.set_postfix(postfix)

    def _close(self, bar: tqdm | None) -> None:
        if bar is not None:
            with self._writing(bar):
                bar.close()

    # ------------------------------------------------------------------ postfix
    def get_metrics(self, trainer: Any, pl_module: Any) -> dict[str, Any]:
        """What the postfix shows: ``v_num``, ``loss`` and the ``prog_bar=True`` metrics (these win on a clash)."""
        from statetrainer.loggers.lifecycle import version_label

        items: dict[str, Any] = {}
        version = version_label(list(getattr(trainer, "loggers", []) or []))
        if version not in (None, ""):
            items["v_num"] = version[-4:] if isinstance(version, str) else version
        if self._losses:
            items["loss"] = torch.stack(list(self._losses)).float().mean().item()
        for key, value in dict(trainer.progress_bar_metrics).items():
            items[key] = value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value
        return items

    def _remember_loss(self, outputs: Any) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor) and loss.numel() == 1:
            self._losses.append(loss.detach().reshape(()))

    @property
    def total_train_batches(self) -> float:
        trainer = self._trainer
        total = trainer.num_training_batches
        if trainer.max_epochs == -1 and trainer.max_steps is not None and trainer.max_steps > 0:
            return min(total, trainer.max_steps - trainer.global_step)
        return total

    def _eval_total(self, stage: str, dataloader_idx: int) -> float | None:
        counts = getattr(self._trainer, _EVAL_TOTALS[stage], None)
        if counts is None and stage in ("test", "predict"):  # a trainer that counts every evaluation run there
            counts = getattr(self._trainer, "num_val_batches", None)
        if isinstance(counts, (list, tuple)):
            return counts[dataloader_idx] if dataloader_idx < len(counts) else None
        return counts

    # ------------------------------------------------------------------ hooks: setup and training
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._trainer = trainer
        if not getattr(trainer, "is_global_zero", True):
            self.disable()

    def on_sanity_check_start(self, trainer: Any, pl_module: Any) -> None:
        self.val_progress_bar = self._new_bar(_EVAL_TITLES["sanity_check"], leave=False)

    def on_sanity_check_end(self, trainer: Any, pl_module: Any) -> None:
        self._close(self.val_progress_bar)
        self.val_progress_bar = None
        self._eval_dataloader = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._losses.clear()
        self.train_progress_bar = self._new_bar("Training", leave=True)
        self._train_bar_used = False

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if self.train_progress_bar is None or (self._leave and self._train_bar_used):
            self.train_progress_bar = self._new_bar("Training", leave=True)
        self._train_bar_used = True
        self._restart(self.train_progress_bar, self.total_train_batches, f"Epoch {trainer.current_epoch}")

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._remember_loss(outputs)
        bar = self.train_progress_bar
        if bar is not None and self._should_draw(bar, batch_idx + 1):
            self._draw(bar, batch_idx + 1, self.get_metrics(trainer, pl_module))

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self._show_postfix(self.train_progress_bar, self.get_metrics(trainer, pl_module))
        if self._leave:
            self._close(self.train_progress_bar)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._close(self.train_progress_bar)

    # ------------------------------------------------------------------ hooks: evaluation bars
    def _eval_bar_start(self, stage: str, dataloader_idx: int) -> None:
        bar = self._eval_bar(stage)
        if bar is None or self._eval_dataloader == dataloader_idx:
            return
        self._eval_dataloader = dataloader_idx
        self._restart(bar, self._eval_total(stage, dataloader_idx), f"{_EVAL_TITLES[stage]} DataLoader {dataloader_idx}")

    def _eval_bar_update(self, stage: str, batch_idx: int) -> None:
        bar = self._eval_bar(stage)
        if bar is not None and self._should_draw(bar, batch_idx + 1):
            self._draw(bar, batch_idx + 1)

    def _eval_bar(self, stage: str) -> tqdm | None:
        return self.val_progress_bar if stage in ("validate", "sanity_check") else getattr(self, f"{stage}_progress_bar")

    def _val_stage(self, trainer: Any) -> str:
        return "sanity_check" if getattr(trainer, "sanity_checking", False) else "validate"

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        if not getattr(trainer, "sanity_checking", False):
            in_fit = trainer.state.fn != "validate"
            self.val_progress_bar = self._new_bar("Validation", leave=not in_fit, offset=int(in_fit))

    def on_validation_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int,
                                  dataloader_idx: int = 0) -> None:
        self._eval_bar_start(self._val_stage(trainer), dataloader_idx)

    def on_validation_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        self._eval_bar_update(self._val_stage(trainer), batch_idx)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if getattr(trainer, "sanity_checking", False):
            return
        self._close(self.val_progress_bar)
        self.val_progress_bar, self._eval_dataloader = None, None
        if trainer.state.fn == "fit":
            self._show_postfix(self.train_progress_bar, self.get_metrics(trainer, pl_module))

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self.test_progress_bar = self._new_bar("Testing", leave=True)

    def on_test_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int,
                            dataloader_idx: int = 0) -> None:
        self._eval_bar_start("test", dataloader_idx)

    def on_test_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                          dataloader_idx: int = 0) -> None:
        self._eval_bar_update("test", batch_idx)

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self._close(self.test_progress_bar)
        self.test_progress_bar, self._eval_dataloader = None, None

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        self.predict_progress_bar = self._new_bar("Predicting", leave=True)

    def on_predict_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int,
                               dataloader_idx: int = 0) -> None:
        self._eval_bar_start("predict", dataloader_idx)

    def on_predict_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                             dataloader_idx: int = 0) -> None:
        self._eval_bar_update("predict", batch_idx)

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        self._close(self.predict_progress_bar)
        self.predict_progress_bar, self._eval_dataloader = None, None

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        for name in ("val_progress_bar", "test_progress_bar", "predict_progress_bar", "train_progress_bar"):
            self._close(getattr(self, name))
            setattr(self, name, None)

    def print(self, *args: Any, sep: str = " ", **kwargs: Any) -> None:
        """Print a line above the active bar without breaking it."""
        bars = (self.train_progress_bar, self.val_progress_bar, self.test_progress_bar, self.predict_progress_bar)
        active = next((bar for bar in bars if bar is not None and not bar.disable), None)
        text = sep.join(map(str, args))
        if active is None:
            print(text, **kwargs)
        else:
            active.write(text, file=self._file if self._file is not None else sys.stdout, **kwargs)
