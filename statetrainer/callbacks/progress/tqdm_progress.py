"""TQDMProgressBar: the default progress bar, on tqdm (Lightning's ``TQDMProgressBar``).

Bars: sanity check, training (one per epoch, described ``Epoch N`` with N counted from 0 like
``trainer.current_epoch``), validation (below the training bar during fit), test and predict; each
evaluation bar restarts per dataloader (``Validation DataLoader 1``). The postfix shows
``get_metrics``: the logger's version (``v_num``) and the metrics logged with ``prog_bar=True``.

In a terminal the bars redraw in place. When the output is not a terminal (piped, redirected to a
file, captured by CI) each redraw becomes one plain line, at most one every ``piped_interval``
seconds plus the last one of each bar, so logs stay readable (see ``PipedLines``).
"""
from __future__ import annotations

import math
import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator, TextIO

from tqdm import tqdm

from statetrainer.callbacks.progress.piped import PipedLines
from statetrainer.callbacks.progress.progress_bar import RateSwitchedBar
from statetrainer.errors import flag_error

__all__ = ["TQDMProgressBar", "Tqdm"]

_BARS = ("train", "val", "test", "predict")


class Tqdm(tqdm):
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


class TQDMProgressBar(RateSwitchedBar):
    """Lightning's default progress bar on tqdm.

    Args:
        refresh_rate: redraw every this many batches (and at a bar's last batch); 0 disables the bars.
            The ``TQDM_MINITERS`` environment variable raises it (the larger wins); on Google Colab
            (``COLAB_GPU`` set) the default 1 becomes 20.
        process_position: move the bars this many pairs of lines down (several trainers at once).
        leave: keep each finished training epoch's bar on screen (a new bar per epoch).
        file: where to draw; default ``sys.stdout`` at the time a bar opens (statetrainer's addition).
        piped_interval: seconds between lines when the output is not a terminal (statetrainer's addition).

    Override ``init_sanity_tqdm``, ``init_train_tqdm``, ``init_validation_tqdm``, ``init_test_tqdm`` or
    ``init_predict_tqdm`` to change a bar, ``get_metrics`` to change what the postfix shows.
    """

    BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]"

    def __init__(self, refresh_rate: int = 1, process_position: int = 0, leave: bool = False,
                 file: TextIO | None = None, piped_interval: float = 5.0) -> None:
        super().__init__()
        if not isinstance(refresh_rate, int) or isinstance(refresh_rate, bool) or refresh_rate < 0:
            raise flag_error("refresh_rate", refresh_rate, "an int >= 0 (0 disables the bars)")
        self._refresh_rate = _resolve_refresh_rate(refresh_rate)
        self._process_position = process_position
        self._leave = leave
        self._file = file
        self._piped_interval = piped_interval
        self._enabled = True
        self._train_bar_used = False
        self._train_progress_bar: tqdm | None = None
        self._val_progress_bar: tqdm | None = None
        self._test_progress_bar: tqdm | None = None
        self._predict_progress_bar: tqdm | None = None

    def __getstate__(self) -> dict:
        # tqdm bars hold locks and streams; the trainer is set again by the next run's setup
        return {key: None if isinstance(value, tqdm) or key == "_trainer" else value
                for key, value in vars(self).items()}

    # ---------------------------------------------------------------- the bars
    def _bar(self, name: str) -> tqdm:
        bar = getattr(self, f"_{name}_progress_bar")
        if bar is None:
            raise TypeError(f"{type(self).__name__}.{name}_progress_bar is not set yet: it is made when its loop starts.")
        return bar

    train_progress_bar = property(lambda self: self._bar("train"),
                                  lambda self, bar: setattr(self, "_train_progress_bar", bar))
    val_progress_bar = property(lambda self: self._bar("val"),
                                lambda self, bar: setattr(self, "_val_progress_bar", bar))
    test_progress_bar = property(lambda self: self._bar("test"),
                                 lambda self, bar: setattr(self, "_test_progress_bar", bar))
    predict_progress_bar = property(lambda self: self._bar("predict"),
                                    lambda self, bar: setattr(self, "_predict_progress_bar", bar))

    # ---------------------------------------------------------------- settings
    process_position = property(lambda self: self._process_position)

    # ---------------------------------------------------------------- making bars
    def _stream(self) -> Any:
        stream = self._file if self._file is not None else sys.stdout
        if bool(getattr(stream, "isatty", lambda: False)()):
            return stream
        return PipedLines(stream, self._piped_interval)

    def _tqdm(self, description: str, leave: bool, offset: int = 0, **extra: Any) -> Tqdm:
        stream = self._stream()
        in_terminal = not isinstance(stream, PipedLines)
        return Tqdm(desc=description, position=2 * self._process_position + offset if in_terminal else None,
                    disable=self.is_disabled, leave=leave, dynamic_ncols=in_terminal, file=stream,
                    bar_format=self.BAR_FORMAT, mininterval=0, **extra)

    def init_sanity_tqdm(self) -> Tqdm:
        """The bar of the sanity check (removed when it ends)."""
        return self._tqdm(self.sanity_check_description, leave=False)

    def init_train_tqdm(self) -> Tqdm:
        """The training bar (restarted at each epoch; a new one per epoch with ``leave=True``)."""
        return self._tqdm(self.train_description, leave=True, smoothing=0)

    def init_validation_tqdm(self) -> Tqdm:
        """The validation bar: below the training bar in fit (and removed), alone in ``validate``."""
        beside_training = self.trainer.state.fn != "validate"
        return self._tqdm(self.validation_description, leave=not beside_training, offset=int(beside_training))

    def init_test_tqdm(self) -> Tqdm:
        return self._tqdm(self.test_description, leave=True)

    def init_predict_tqdm(self) -> Tqdm:
        return self._tqdm(self.predict_description, leave=True, smoothing=0)

    # ---------------------------------------------------------------- drawing
    @staticmethod
    @contextmanager
    def _writing(bar: tqdm) -> Iterator[None]:
        """Let a piped bar's writer through for the draws the callback makes (tqdm's own stay silent)."""
        writer = getattr(bar, "fp", None)
        piped = bool(getattr(writer, "piped_lines", False))
        if piped:
            writer.open = True
        try:
            yield
        finally:
            if piped:
                writer.open = False

    def _should_update(self, current: int, bar: tqdm) -> bool:
        """Every `refresh_rate` batches and at the bar's last batch (Lightning's rule)."""
        if not self.is_enabled or bar.disable:
            return False
        return current % self._refresh_rate == 0 or current == bar.total

    def _draw(self, bar: tqdm, current: int, postfix: dict | None = None) -> None:
        bar.n = current
        if postfix is not None:
            bar.set_postfix(postfix, refresh=False)
        writer = getattr(bar, "fp", None)
        if getattr(writer, "piped_lines", False) and current != bar.total and not writer.due():
            return  # a pipe gets at most a line every `piped_interval` seconds, and the last one
        with self._writing(bar):
            bar.refresh()

    def _show_postfix(self, bar: tqdm, postfix: dict) -> None:
        if not bar.disable:
            with self._writing(bar):
                bar.set_postfix(postfix)

    def _close(self, bar: tqdm | None) -> None:
        if bar is not None:
            with self._writing(bar):
                bar.close()

    @staticmethod
    def _restart(bar: tqdm, total: float | None, description: str) -> None:
        bar.reset()
        bar.total = convert_inf(total)
        bar.initial = 0
        bar.set_description(description)

    # ---------------------------------------------------------------- training
    def on_sanity_check_start(self, trainer: Any, pl_module: Any) -> None:
        self.val_progress_bar = self.init_sanity_tqdm()
        self.train_progress_bar = Tqdm(disable=True)  # a stand-in until training starts

    def on_sanity_check_end(self, trainer: Any, pl_module: Any) -> None:
        self._close(self._val_progress_bar)
        self._close(self._train_progress_bar)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.train_progress_bar = self.init_train_tqdm()
        self._train_bar_used = False

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if self._leave:
            unused = self._train_progress_bar
            if unused is not None and not self._train_bar_used:  # made by on_train_start, shown nothing yet
                unused.leave = False
                unused.close()
            self.train_progress_bar = self.init_train_tqdm()
        self._train_bar_used = True
        self._restart(self.train_progress_bar, self.total_train_batches, f"Epoch {trainer.current_epoch}")

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        bar = self._train_progress_bar
        if bar is not None and self._should_update(batch_idx + 1, bar):
            self._draw(bar, batch_idx + 1, self.get_metrics(trainer, pl_module))

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        bar = self.train_progress_bar
        if not bar.disable:
            self._show_postfix(bar, self.get_metrics(trainer, pl_module))
        if self._leave:
            self._close(bar)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._close(self._train_progress_bar)

    # ---------------------------------------------------------------- evaluation
    def _eval_batch_start(self, bar: tqdm, stage: str, description: str, dataloader_idx: int) -> None:
        if self.has_dataloader_changed(dataloader_idx):
            total = getattr(self, f"total_{stage}_batches_current_dataloader")
            self._restart(bar, total, f"{description} DataLoader {dataloader_idx}")

    def _eval_batch_end(self, bar: tqdm | None, batch_idx: int) -> None:
        if bar is not None and self._should_update(batch_idx + 1, bar):
            self._draw(bar, batch_idx + 1)

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.sanity_checking:
            self.val_progress_bar = self.init_validation_tqdm()

    def on_validation_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int,
                                  dataloader_idx: int = 0) -> None:
        description = self.sanity_check_description if trainer.sanity_checking else self.validation_description
        self._eval_batch_start(self.val_progress_bar, "val", description, dataloader_idx)

    def on_validation_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        self._eval_batch_end(self._val_progress_bar, batch_idx)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self._close(self._val_progress_bar)
        self.reset_dataloader_idx_tracker()
        if self._train_progress_bar is not None and trainer.state.fn == "fit":
            self._show_postfix(self._train_progress_bar, self.get_metrics(trainer, pl_module))

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self.test_progress_bar = self.init_test_tqdm()

    def on_test_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int,
                            dataloader_idx: int = 0) -> None:
        self._eval_batch_start(self.test_progress_bar, "test", self.test_description, dataloader_idx)

    def on_test_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                          dataloader_idx: int = 0) -> None:
        self._eval_batch_end(self._test_progress_bar, batch_idx)

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self._close(self._test_progress_bar)
        self.reset_dataloader_idx_tracker()

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        self.predict_progress_bar = self.init_predict_tqdm()

    def on_predict_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int,
                               dataloader_idx: int = 0) -> None:
        self._eval_batch_start(self.predict_progress_bar, "predict", self.predict_description, dataloader_idx)

    def on_predict_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                             dataloader_idx: int = 0) -> None:
        self._eval_batch_end(self._predict_progress_bar, batch_idx)

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        self._close(self._predict_progress_bar)
        self.reset_dataloader_idx_tracker()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        for name in _BARS:
            self._close(getattr(self, f"_{name}_progress_bar"))

    # ---------------------------------------------------------------- printing
    def _open_bar(self) -> tqdm | None:
        """The first bar still on screen (training, validation, test, predict), if any."""
        for name in _BARS:
            bar = getattr(self, f"_{name}_progress_bar")
            if bar is not None and not bar.disable:  # tqdm disables a bar when it closes
                return bar
        return None

    def print(self, *args: Any, **kwargs: Any) -> None:
        """Print above the open bar (``tqdm.write``); a plain ``print`` when no bar is open."""
        if self._file is not None:
            kwargs.setdefault("file", self._file)  # where this bar draws
        bar = self._open_bar()
        if bar is None:
            print(*args, **kwargs)
            return
        sep = kwargs.pop("sep", " ")
        kwargs.pop("flush", None)  # tqdm.write flushes by itself
        bar.write(sep.join(map(str, args)), **kwargs)


def convert_inf(total: float | None) -> float | None:
    """tqdm's total for a count that may be infinite or unknown: None."""
    if total is None or math.isinf(total) or math.isnan(total):
        return None
    return total


def _resolve_refresh_rate(refresh_rate: int) -> int:
    if os.environ.get("COLAB_GPU") and refresh_rate == 1:
        return 20  # drawing every batch makes Colab's output cell fall behind
    if "TQDM_MINITERS" in os.environ:
        return max(int(os.environ["TQDM_MINITERS"]), refresh_rate)
    return refresh_rate
