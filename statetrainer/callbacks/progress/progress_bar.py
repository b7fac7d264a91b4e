"""ProgressBar: the base class of progress bar callbacks (Lightning's ``ProgressBar``).

It knows where the run stands (the totals a bar needs, the descriptions, the metrics a bar shows),
registers with the console while it shows (so ``self.print`` and the library's messages go through
it) and prints one line when fit ends. It draws nothing itself: ``TQDMProgressBar`` and
``RichProgressBar`` do. Subclass it for a bar of your own and implement ``enable``/``disable``.

``ProgressBar(...)`` called on this class itself gives the default bar, a ``TQDMProgressBar`` with
the same arguments (statetrainer's ``ProgressBar`` was the tqdm bar before the Lightning names
arrived); subclasses are built as written.
"""
from __future__ import annotations

import warnings
from typing import Any

from statetrainer.callbacks.callback import Callback
from statetrainer.console import CONSOLE

__all__ = ["ProgressBar", "RateSwitchedBar"]


class ProgressBar(Callback):
    """Base class of progress bars: totals, descriptions, metrics, ``print``, the end-of-fit line."""

    def __init__(self) -> None:
        self._trainer: Any = None
        self._current_eval_dataloader_idx: int | None = None

    @property
    def trainer(self) -> Any:
        """The trainer this bar was set up with; a TypeError before its first run."""
        trainer = getattr(self, "_trainer", None)
        if trainer is None:
            raise TypeError(f"{type(self).__name__}.trainer is not set yet: it is set when a run calls setup.")
        return trainer

    # ---------------------------------------------------------------- descriptions
    sanity_check_description = property(lambda self: "Sanity Checking")
    train_description = property(lambda self: "Training")
    validation_description = property(lambda self: "Validation")
    test_description = property(lambda self: "Testing")
    predict_description = property(lambda self: "Predicting")

    # ---------------------------------------------------------------- totals
    @property
    def total_train_batches(self) -> int | float:
        """Training batches in this epoch (``inf`` for a loader without a length), capped by what
        ``max_steps`` leaves when ``max_epochs=-1``."""
        trainer = self.trainer
        total = trainer.num_training_batches
        if trainer.max_epochs == -1 and trainer.max_steps is not None and trainer.max_steps > 0:
            return min(total, trainer.max_steps - trainer.global_step)
        return total

    @property
    def total_val_batches_current_dataloader(self) -> int | float:
        trainer = self.trainer
        counts = trainer.num_sanity_val_batches if trainer.sanity_checking else trainer.num_val_batches
        return self._current_count(counts)

    @property
    def total_test_batches_current_dataloader(self) -> int | float:
        return self._current_count(self.trainer.num_test_batches)

    @property
    def total_predict_batches_current_dataloader(self) -> int | float:
        return self._current_count(self.trainer.num_predict_batches)

    @property
    def total_val_batches(self) -> int | float:
        """Validation batches of all loaders in this epoch: 0 in an epoch that does not validate."""
        trainer = self.trainer
        every = trainer.check_val_every_n_epoch
        if not trainer.enable_validation or (every is not None and (trainer.current_epoch + 1) % every):
            return 0
        counts = trainer.num_val_batches
        return sum(counts) if isinstance(counts, (list, tuple)) else counts

    def _current_count(self, counts: Any) -> int | float:
        if not isinstance(counts, (list, tuple)):
            return counts
        index = self._current_eval_dataloader_idx or 0
        return counts[index] if index < len(counts) else 0

    def has_dataloader_changed(self, dataloader_idx: int) -> bool:
        """Remember `dataloader_idx`; True when it differs from the one seen before."""
        changed = self._current_eval_dataloader_idx != dataloader_idx
        self._current_eval_dataloader_idx = dataloader_idx
        return changed

    def reset_dataloader_idx_tracker(self) -> None:
        self._current_eval_dataloader_idx = None

    # ---------------------------------------------------------------- switching
    @property
    def is_enabled(self) -> bool:
        return True

    @property
    def is_disabled(self) -> bool:
        return not self.is_enabled

    def disable(self) -> None:
        """Stop drawing (a bar of your own must implement this)."""
        raise NotImplementedError(f"{type(self).__name__} must implement disable().")

    def enable(self) -> None:
        """Draw again (a bar of your own must implement this)."""
        raise NotImplementedError(f"{type(self).__name__} must implement enable().")

    def print(self, *args: Any, **kwargs: Any) -> None:
        """Print without breaking the bar; the base class has no bar, so it prints plainly."""
        print(*args, **kwargs)

    # ---------------------------------------------------------------- metrics
    def get_metrics(self, trainer: Any, pl_module: Any) -> dict[str, Any]:
        """What the bar shows: ``v_num`` (the logger's version) and every ``prog_bar=True`` metric.
        Override to change it; a logged metric named like a standard one replaces it (with a warning)."""
        from statetrainer.loggers.lifecycle import version_label

        standard: dict[str, Any] = {}
        version = version_label(list(getattr(trainer, "loggers", None) or []))
        if version not in (None, ""):
            standard["v_num"] = version[-4:] if isinstance(version, str) else version
        shown = {key: _plain(value) for key, value in dict(trainer.progress_bar_metrics).items()}
        clash = sorted(standard.keys() & shown.keys())
        if clash:
            warnings.warn(f"the progress bar shows {', '.join(clash)} itself; the metric logged under that name "
                          "with prog_bar=True replaces it (rename it, or override get_metrics).", UserWarning)
        return {**standard, **shown}

    # ---------------------------------------------------------------- hooks
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._trainer = trainer
        if not getattr(trainer, "is_global_zero", True):
            self.disable()
        CONSOLE.show(self)

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        CONSOLE.hide(self)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if self.is_enabled:
            line = self.fit_summary(trainer)
            if line:
                self.print(line)

    def fit_summary(self, trainer: Any) -> str | None:
        """The line printed when fit ends: why it stopped, the best checkpoint, the log folder.
        Return None from an override to print nothing."""
        return fit_summary_line(trainer)


def fit_summary_line(trainer: Any) -> str:
    """``Fit ended: <stop_reason> | best checkpoint: <path> | logs: <folder>``."""
    reason = getattr(trainer.state, "stop_reason", None) or "no stop reason recorded."
    checkpoint = getattr(trainer, "checkpoint_callback", None)
    if checkpoint is None:
        best = "none (checkpointing is off)"
    else:
        best = getattr(checkpoint, "best_model_path", "") or "none saved"
    logs = trainer.log_dir if getattr(trainer, "loggers", None) else "none (no logger)"
    return f"Fit ended: {reason} | best checkpoint: {best} | logs: {logs}"


def _plain(value: Any) -> Any:
    """A one-element tensor as a Python number; anything else unchanged."""
    if callable(getattr(value, "numel", None)) and value.numel() == 1:
        return value.item()
    return value


class RateSwitchedBar(ProgressBar):
    """A bar that draws while enabled and its ``refresh_rate`` is above 0 (the tqdm and rich bars).

    Subclasses set ``_refresh_rate`` and ``_enabled`` in their ``__init__``."""

    refresh_rate = property(lambda self: self._refresh_rate)

    @property
    def is_enabled(self) -> bool:
        return self._enabled and self._refresh_rate > 0

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True
