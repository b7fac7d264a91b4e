"""RichProgressBar: the progress bar drawn with ``rich`` (Lightning's ``RichProgressBar``).

Needs the optional extra ``pip install statetrainer[rich]``; building one without rich raises a
ModuleNotFoundError that says so. The display holds one task per bar: sanity check (hidden when it
ends), training (``Epoch 3/9``: the epoch counted from 0 like ``trainer.current_epoch``, over the
last epoch's index), validation (hidden after each validation run in fit), test and predict, each
evaluation bar restarted per dataloader. The metrics of ``get_metrics`` follow the training bar.

In a terminal the display redraws in place at most ``refresh_rate`` times a second and messages
printed through ``print`` (``self.print``, ``trainer.print``...) appear above it. When the output is
not a terminal, rich draws nothing while it runs and writes each display's final state as plain
lines when it stops (at the end of the run, or of each epoch with ``leave=True``).
"""
from __future__ import annotations

import math
import time
from typing import Any

from statetrainer.callbacks.progress.progress_bar import RateSwitchedBar
from statetrainer.callbacks.progress.rich_theme import RichProgressBarTheme
from statetrainer.errors import flag_error

__all__ = ["RichProgressBar"]

_TASKS = ("train", "val_sanity", "val", "test", "predict")


def _require_rich() -> None:
    try:
        import rich  # noqa: F401
    except ImportError as err:
        raise ModuleNotFoundError("RichProgressBar needs the `rich` package, which is not installed; install it "
                                  "with `pip install statetrainer[rich]` (or `pip install rich`).") from err


class RichProgressBar(RateSwitchedBar):
    """A progress bar drawn with rich.

    Args:
        refresh_rate: redraws per second at most; 0 disables the display.
        leave: keep each finished training epoch's bar on screen (the display restarts per epoch).
        theme: the styles (``RichProgressBarTheme``).
        console_kwargs: arguments for the ``rich.console.Console`` it draws on (``file``,
            ``force_terminal``, ``width``...).
    """

    def __init__(self, refresh_rate: int = 100, leave: bool = False, theme: RichProgressBarTheme | None = None,
                 console_kwargs: dict[str, Any] | None = None) -> None:
        _require_rich()
        super().__init__()
        if not isinstance(refresh_rate, int) or isinstance(refresh_rate, bool) or refresh_rate < 0:
            raise flag_error("refresh_rate", refresh_rate, "an int >= 0 (redraws per second; 0 disables the bar)")
        self._refresh_rate = refresh_rate
        self._leave = leave
        self.theme = theme if theme is not None else RichProgressBarTheme()
        self._console_kwargs = dict(console_kwargs or {})
        self._enabled = True
        self._console: Any = None
        self.progress: Any = None
        self._metrics_column: Any = None
        self._last_refresh = -math.inf
        self.train_progress_bar_id: Any = None
        self.val_sanity_progress_bar_id: Any = None
        self.val_progress_bar_id: Any = None
        self.test_progress_bar_id: Any = None
        self.predict_progress_bar_id: Any = None

    def __getstate__(self) -> dict:
        # the rich console and display hold locks and streams; they are made again when a run starts
        state = dict(vars(self))
        state.update(_console=None, progress=None, _metrics_column=None, _trainer=None)
        return state

    # ---------------------------------------------------------------- console
    @property
    def console(self) -> Any:
        """The ``rich.console.Console`` the bar draws on (made on first use)."""
        if self._console is None:
            from rich.console import Console
            self._console = Console(**self._console_kwargs)
        return self._console

    # ---------------------------------------------------------------- the tasks
    def _task(self, name: str) -> Any:
        task_id = getattr(self, f"{name}_progress_bar_id")
        if self.progress is None or task_id is None:
            raise TypeError(f"{type(self).__name__} has no {name} bar now: it exists while its loop is shown.")
        return _find(self.progress, task_id)

    train_progress_bar = property(lambda self: self._task("train"))
    val_sanity_check_bar = property(lambda self: self._task("val_sanity"))
    val_progress_bar = property(lambda self: self._task("val"))
    test_progress_bar = property(lambda self: self._task("test"))
    predict_progress_bar = property(lambda self: self._task("predict"))

    def configure_columns(self, trainer: Any) -> list:
        """The display's columns before the metrics; override to change them."""
        from statetrainer.callbacks.progress.rich_columns import default_columns
        return default_columns(self.theme)

    # ---------------------------------------------------------------- the display
    def _start(self, trainer: Any) -> None:
        if not self.is_enabled or self.progress is not None:
            return
        from rich.progress import Progress

        from statetrainer.callbacks.progress.rich_columns import MetricsColumn
        theme = self.theme
        self._metrics_column = MetricsColumn(theme.metrics, theme.metrics_text_delimiter, theme.metrics_format)
        for name in _TASKS:
            setattr(self, f"{name}_progress_bar_id", None)
        self.progress = Progress(*self.configure_columns(trainer), self._metrics_column, console=self.console,
                                 auto_refresh=False)
        self.progress.start()

    def _stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def refresh(self, hard: bool = False) -> None:
        """Redraw now if `hard`, else if 1/refresh_rate seconds passed since the last redraw."""
        if self.progress is None:
            return
        now = time.monotonic()
        if hard or now - self._last_refresh >= 1.0 / max(self._refresh_rate, 1):
            self._last_refresh = now
            self.progress.refresh()

    def _add(self, total: float, description: str, visible: bool = True) -> Any:
        total = None if total is None or math.isinf(total) or math.isnan(total) else total
        styled = f"[{self.theme.description}]{description}" if self.theme.description else description
        return self.progress.add_task(styled, total=total, visible=visible)

    def _hide(self, name: str) -> None:
        task_id = getattr(self, f"{name}_progress_bar_id")
        if self.progress is not None and task_id is not None:
            self.progress.update(task_id, visible=False)

    def _advance(self, name: str, current: int) -> None:
        task_id = getattr(self, f"{name}_progress_bar_id")
        if self.progress is None or task_id is None or not self.is_enabled:
            return
        self.progress.update(task_id, completed=current, visible=True)
        self.refresh(hard=current == _find(self.progress, task_id).total)

    def _show_metrics(self, trainer: Any, pl_module: Any) -> None:
        if self._metrics_column is not None and self.is_enabled:
            self._metrics_column.metrics = self.get_metrics(trainer, pl_module)
            self._metrics_column.task_id = self.train_progress_bar_id

    def train_epoch_description(self, epoch: int) -> str:
        """``Epoch 3/9`` (the last epoch's index after the slash when max_epochs is set), padded to
        the width of the validation description so the bars line up."""
        text = f"Epoch {epoch}"
        max_epochs = getattr(self.trainer, "max_epochs", None)
        if max_epochs is not None and max_epochs > 0:
            text += f"/{max_epochs - 1}"
        return text.ljust(len(self.validation_description))

    # ---------------------------------------------------------------- hooks: starts and ends
    def on_sanity_check_start(self, trainer: Any, pl_module: Any) -> None:
        self._start(trainer)

    def on_sanity_check_end(self, trainer: Any, pl_module: Any) -> None:
        self._hide("val_sanity")
        self.refresh(hard=True)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._start(trainer)

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._start(trainer)

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self._start(trainer)

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        self._start(trainer)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._stop()  # the display's final state first, then the end-of-fit line below it
        super().on_fit_end(trainer, pl_module)

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._stop()
        super().teardown(trainer, pl_module, stage)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._stop()

    # ---------------------------------------------------------------- hooks: training
    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if self.is_disabled:
            return
        if self._leave and self.train_progress_bar_id is not None:
            self._stop()  # the finished epoch stays on screen; a new display below it
            self._start(trainer)
        description = self.train_epoch_description(trainer.current_epoch)
        if self.train_progress_bar_id is None:
            self.train_progress_bar_id = self._add(self.total_train_batches, description)
        else:
            total = self.total_train_batches
            self.progress.reset(self.train_progress_bar_id, total=None if math.isinf(total) else total,
                                description=description, visible=True)
        self.refresh(hard=True)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.is_enabled and self.progress is not None and self.train_progress_bar_id is None:  # resumed mid-epoch
            self.train_progress_bar_id = self._add(self.total_train_batches,
                                                   self.train_epoch_description(trainer.current_epoch))
        self._show_metrics(trainer, pl_module)
        self._advance("train", batch_idx + 1)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self._show_metrics(trainer, pl_module)
        self.refresh(hard=True)

    # ---------------------------------------------------------------- hooks: evaluation
    def _eval_start(self, name: str, total: str, description: str, dataloader_idx: int) -> None:
        if self.is_disabled or self.progress is None or not self.has_dataloader_changed(dataloader_idx):
            return
        self._hide(name)
        task_id = self._add(getattr(self, f"total_{total}_batches_current_dataloader"), description)
        setattr(self, f"{name}_progress_bar_id", task_id)
        self.refresh(hard=True)

    def on_validation_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int,
                                  dataloader_idx: int = 0) -> None:
        if trainer.sanity_checking:
            self._eval_start("val_sanity", "val", self.sanity_check_description, dataloader_idx)
        else:
            self._eval_start("val", "val", self.validation_description, dataloader_idx)

    def on_validation_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        self._advance("val_sanity" if trainer.sanity_checking else "val", batch_idx + 1)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            self._hide("val")
            self.refresh(hard=True)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.state.fn == "fit":
            self._show_metrics(trainer, pl_module)
            self.refresh(hard=True)
        self.reset_dataloader_idx_tracker()

    def on_test_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int,
                            dataloader_idx: int = 0) -> None:
        self._eval_start("test", "test", self.test_description, dataloader_idx)

    def on_test_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                          dataloader_idx: int = 0) -> None:
        self._advance("test", batch_idx + 1)

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self.reset_dataloader_idx_tracker()

    def on_predict_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int,
                               dataloader_idx: int = 0) -> None:
        self._eval_start("predict", "predict", self.predict_description, dataloader_idx)

    def on_predict_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                             dataloader_idx: int = 0) -> None:
        self._advance("predict", batch_idx + 1)

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        self.reset_dataloader_idx_tracker()

    # ---------------------------------------------------------------- printing
    def print(self, *args: Any, **kwargs: Any) -> None:
        """Print on the bar's console (above the display while it runs); a plain ``print`` when a
        `file` is named."""
        if "file" in kwargs:
            print(*args, **kwargs)
            return
        text = kwargs.get("sep", " ").join(map(str, args))
        self.console.print(text, end=kwargs.get("end", "\n"), markup=False, highlight=False, emoji=False,
                           soft_wrap=True)


def _find(progress: Any, task_id: Any) -> Any:
    return next(task for task in progress.tasks if task.id == task_id)
