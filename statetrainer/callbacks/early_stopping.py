"""EarlyStopping: request a stop when a monitored metric stops improving, crosses a threshold or diverges.

Arguments and the decision on each check are Lightning's (2.x). The stop goes through
``trainer.should_stop`` (so min_epochs / min_steps still hold) with a sentence for
``trainer.state.stop_reason``. It is not latched: every check decides afresh, and a check that
finds no reason to stop withdraws nothing another listener asked for.
"""
from __future__ import annotations

import math
import numbers
from enum import Enum
from typing import Any, Callable

import torch

from statetrainer.callbacks.callback import Callback
from statetrainer.console import CONSOLE
from statetrainer.errors import MisconfigurationError, flag_error

__all__ = ["EarlyStopping", "EarlyStoppingReason"]


class EarlyStoppingReason(Enum):
    """Which rule made EarlyStopping ask for the stop (``EarlyStopping.stopping_reason``).

    The integer values are Lightning's, and they are what the checkpoint stores.
    """

    NOT_STOPPED = 0            # no rule has fired (yet)
    STOPPING_THRESHOLD = 1     # the metric reached `stopping_threshold`
    DIVERGENCE_THRESHOLD = 2   # the metric went past `divergence_threshold`
    PATIENCE_EXHAUSTED = 3     # `patience` checks in a row without improvement
    NON_FINITE_METRIC = 4      # the metric became NaN or infinite (with check_finite=True)


# statetrainer 0.1 stored the reason as a lower-case name; such checkpoints still load
_OLD_NAMES = {reason.name.lower(): reason for reason in EarlyStoppingReason}


def _reason(value: Any) -> EarlyStoppingReason:
    if isinstance(value, EarlyStoppingReason):
        return value
    if isinstance(value, str):
        return _OLD_NAMES[value]
    return EarlyStoppingReason(value)


def _is_number(value: Any) -> bool:
    """A real number (Python, numpy, or a one-element tensor), not NaN, not a bool."""
    if isinstance(value, torch.Tensor):
        usable = value.numel() == 1 and value.dtype is not torch.bool and not value.dtype.is_complex
        return usable and not bool(torch.isnan(value))
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)


class EarlyStopping(Callback):
    """Stop fit when `monitor` has not improved by more than `min_delta` for `patience` checks."""

    mode_dict = {"min": torch.lt, "max": torch.gt}
    order_dict = {"min": "<", "max": ">"}

    def __init__(self, monitor: str, min_delta: float = 0.0, patience: int = 3, verbose: bool = False,
                 mode: str = "min", strict: bool = True, check_finite: bool = True,
                 stopping_threshold: float | None = None, divergence_threshold: float | None = None,
                 check_on_train_epoch_end: bool | None = None, log_rank_zero_only: bool = False) -> None:
        if mode not in self.mode_dict:
            raise flag_error("EarlyStopping(mode)", mode, "'min' or 'max'")
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 0:
            raise flag_error("EarlyStopping(patience)", patience, "an int >= 0")
        if not _is_number(min_delta):
            raise flag_error("EarlyStopping(min_delta)", min_delta, "a number (the smallest change that counts "
                             "as an improvement)")
        self.monitor = monitor
        self.min_delta = abs(min_delta) * (1 if mode == "max" else -1)
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.strict = strict
        self.check_finite = check_finite
        self.stopping_threshold = stopping_threshold
        self.divergence_threshold = divergence_threshold
        self.log_rank_zero_only = log_rank_zero_only
        self._check_on_train_epoch_end = check_on_train_epoch_end
        self.wait_count = 0
        self.stopped_epoch = 0
        self.stopping_reason = EarlyStoppingReason.NOT_STOPPED
        self.stopping_reason_message: str | None = None
        self.best_score = torch.tensor(math.inf if mode == "min" else -math.inf)

    @property
    def state_key(self) -> str:
        return self._generate_state_key(monitor=self.monitor, mode=self.mode)

    @property
    def monitor_op(self) -> Callable:
        return self.mode_dict[self.mode]

    # ---------------------------------------------------------------- hooks
    def setup(self, trainer, pl_module, stage: str) -> None:
        if self._check_on_train_epoch_end is None:
            self._check_on_train_epoch_end = (getattr(trainer, "val_check_interval", 1.0) == 1.0
                                              and getattr(trainer, "check_val_every_n_epoch", 1) == 1)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._check_on_train_epoch_end and not self._should_skip_check(trainer):
            self._run_early_stopping_check(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        if not self._check_on_train_epoch_end and not self._should_skip_check(trainer):
            self._run_early_stopping_check(trainer)

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {"wait_count": self.wait_count, "stopped_epoch": self.stopped_epoch, "best_score": self.best_score,
                "patience": self.patience, "stopping_reason": self.stopping_reason.value,
                "stopping_reason_message": self.stopping_reason_message}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.wait_count = state_dict["wait_count"]
        self.stopped_epoch = state_dict["stopped_epoch"]
        self.best_score = state_dict["best_score"]
        self.patience = state_dict["patience"]
        self.stopping_reason = _reason(state_dict.get("stopping_reason", EarlyStoppingReason.NOT_STOPPED))
        self.stopping_reason_message = state_dict.get("stopping_reason_message")

    # ---------------------------------------------------------------- the check
    @staticmethod
    def _should_skip_check(trainer) -> bool:
        fn = getattr(trainer.state.fn, "value", trainer.state.fn)
        return fn != "fit" or trainer.sanity_checking

    def _validate_condition_metric(self, logs: dict[str, Any]) -> bool:
        if logs.get(self.monitor) is not None:
            return True
        message = (f"Early stopping conditioned on metric `{self.monitor}` which is not available; logged metrics: "
                   f"{', '.join(f'`{key}`' for key in logs) or 'none'}. Log it with self.log({self.monitor!r}, ...) "
                   "or pass strict=False.")
        if self.strict:
            raise MisconfigurationError(message)
        if self.verbose:
            import warnings
            warnings.warn(message, RuntimeWarning)
        return False

    def _run_early_stopping_check(self, trainer) -> None:
        logs = trainer.callback_metrics
        if trainer.fast_dev_run or not self._validate_condition_metric(logs):
            return
        current = torch.as_tensor(logs[self.monitor]).squeeze()
        should_stop, reason = self._evaluate_stopping_criteria(current)
        should_stop = _any_rank(trainer, should_stop)
        if should_stop:
            self.stopped_epoch = trainer.current_epoch
            self.stopping_reason_message = reason
            request_stop(trainer, f"EarlyStopping: {reason}")
        if reason and self.verbose:
            self._log_info(trainer, reason)

    def _evaluate_stopping_criteria(self, current: torch.Tensor) -> tuple[bool, str | None]:
        """(stop?, why) for one check; updates best_score and wait_count like Lightning."""
        sign = self.order_dict[self.mode]
        if self.check_finite and not torch.isfinite(current):
            self.stopping_reason = EarlyStoppingReason.NON_FINITE_METRIC
            return True, (f"{self.monitor} = {_num(current)} is not finite (best was {_num(self.best_score)}) "
                          f"after {self.wait_count} checks without improvement")
        if self.stopping_threshold is not None and self.monitor_op(current, self.stopping_threshold):
            self.stopping_reason = EarlyStoppingReason.STOPPING_THRESHOLD
            return True, (f"Stopping threshold reached: {self.monitor} = {_num(current)} {sign} "
                          f"{self.stopping_threshold}")
        if self.divergence_threshold is not None and self.monitor_op(-current, -self.divergence_threshold):
            self.stopping_reason = EarlyStoppingReason.DIVERGENCE_THRESHOLD
            return True, (f"Divergence threshold reached: {self.monitor} = {_num(current)} "
                          f"{'>' if sign == '<' else '<'} {self.divergence_threshold}")
        if self.monitor_op(current - self.min_delta, self.best_score.to(current.device)):
            message = self._improvement_message(current)
            self.best_score, self.wait_count = current, 0
            return False, message
        self.wait_count += 1
        if self.wait_count >= self.patience:
            self.stopping_reason = EarlyStoppingReason.PATIENCE_EXHAUSTED
            return True, (f"patience exhausted: {self.monitor} did not improve on {_num(self.best_score)} "
                          f"(min_delta={abs(self.min_delta)}, mode={self.mode}) in {self.wait_count} checks, "
                          f"last value {_num(current)}")
        return False, None

    def _improvement_message(self, current: torch.Tensor) -> str:
        if torch.isfinite(self.best_score):
            return (f"Metric {self.monitor} improved by {abs(float(self.best_score) - float(current)):.3f} >= "
                    f"min_delta = {abs(self.min_delta)}. New best score: {float(current):.3f}")
        return f"Metric {self.monitor} improved. New best score: {float(current):.3f}"

    def _log_info(self, trainer, message: str) -> None:
        rank = trainer.global_rank if trainer.world_size > 1 else None
        if rank is None or not self.log_rank_zero_only or rank == 0:
            CONSOLE.print(message if rank is None else f"[rank: {rank}] {message}")


def request_stop(trainer, sentence: str) -> None:
    """Ask the trainer to stop (granted once min_epochs/min_steps hold) and say why."""
    trainer.should_stop = True
    stop = getattr(trainer, "_stop", None)
    explain = getattr(stop, "explain", None)
    if explain is not None:
        explain(sentence)


def _num(value: Any) -> str:
    number = float(value)
    return f"{number:.6g}"


def _any_rank(trainer, decision: bool) -> bool:
    reduce = getattr(getattr(trainer, "strategy", None), "reduce_boolean_decision", None)
    return bool(reduce(bool(decision), all=False)) if reduce is not None else bool(decision)
