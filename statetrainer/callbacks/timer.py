"""Timer: time spent per stage, and a stop request once training has used `duration`.

The Trainer's ``max_time`` flag creates ``Timer(duration=max_time, interval="step")``. The
duration is a ``"DD:HH:MM:SS"`` string, a dict of ``datetime.timedelta`` arguments or a
timedelta. The training time already spent is saved in checkpoints, so a resumed fit counts it.
"""
from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

from statetrainer.callbacks.callback import Callback
from statetrainer.console import CONSOLE
from statetrainer.callbacks.early_stopping import request_stop
from statetrainer.errors import flag_error

__all__ = ["Timer", "parse_duration"]

STAGES = ("train", "sanity_check", "validate", "test", "predict")
INTERVALS = ("step", "epoch")
_DURATION = re.compile(r"(\d+):(\d\d):(\d\d):(\d\d)")
_TIMEDELTA_KEYS = ("weeks", "days", "hours", "minutes", "seconds", "milliseconds", "microseconds")


def parse_duration(duration: Any, flag: str = "Timer(duration)") -> timedelta | None:
    """A timedelta from "DD:HH:MM:SS", a dict of timedelta arguments or a timedelta (None stays None)."""
    if duration is None or isinstance(duration, timedelta):
        return duration
    if isinstance(duration, str):
        match = _DURATION.fullmatch(duration.strip())
        if not match:
            raise flag_error(flag, duration, "a string 'DD:HH:MM:SS' (e.g. '00:12:00:00'), a dict or a timedelta")
        days, hours, minutes, seconds = (int(part) for part in match.groups())
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if isinstance(duration, dict):
        unknown = sorted(set(duration) - set(_TIMEDELTA_KEYS), key=str)
        if unknown:
            raise flag_error(flag, duration, f"a dict with keys among {', '.join(_TIMEDELTA_KEYS)}")
        try:
            return timedelta(**duration)
        except (TypeError, OverflowError) as error:
            raise flag_error(flag, duration, f"a dict of numbers for timedelta ({error})") from None
    raise flag_error(flag, duration, "a string 'DD:HH:MM:SS', a dict of timedelta arguments or a timedelta")


class Timer(Callback):
    """Track time per stage; request a stop when training time reaches `duration`."""

    def __init__(self, duration: str | timedelta | dict | None = None, interval: str = "step",
                 verbose: bool = True) -> None:
        if interval not in INTERVALS:
            raise flag_error("Timer(interval)", interval, "'step' or 'epoch'")
        parsed = parse_duration(duration)
        self._duration = parsed.total_seconds() if parsed is not None else None
        self._interval = interval
        self._verbose = verbose
        self._start_time: dict[str, float | None] = dict.fromkeys(STAGES)
        self._end_time: dict[str, float | None] = dict.fromkeys(STAGES)
        self._offset = 0.0

    # ---------------------------------------------------------------- queries
    def start_time(self, stage: str = "train") -> float | None:
        """When `stage` last started (time.monotonic seconds)."""
        return self._start_time[_stage(stage)]

    def end_time(self, stage: str = "train") -> float | None:
        """When `stage` last ended (time.monotonic seconds)."""
        return self._end_time[_stage(stage)]

    def time_elapsed(self, stage: str = "train") -> float:
        """Seconds spent in `stage`'s last run; training time includes what a resumed checkpoint had spent."""
        stage = _stage(stage)
        offset = self._offset if stage == "train" else 0.0
        start, end = self._start_time[stage], self._end_time[stage]
        if start is None:
            return offset
        return (time.monotonic() if end is None else end) - start + offset

    def time_remaining(self, stage: str = "train") -> float | None:
        """Seconds left of `duration` (None without a duration)."""
        return None if self._duration is None else self._duration - self.time_elapsed(stage)

    # ---------------------------------------------------------------- hooks
    def on_train_start(self, trainer, pl_module) -> None:
        self._begin("train")

    def on_train_end(self, trainer, pl_module) -> None:
        self._end("train")

    # "validate" is the last validation run of any kind, the sanity check included (as Lightning's Timer);
    # "sanity_check" is the sanity check alone
    def on_validation_start(self, trainer, pl_module) -> None:
        self._begin("validate")
        if trainer.sanity_checking:
            self._begin("sanity_check")

    def on_validation_end(self, trainer, pl_module) -> None:
        self._end("validate")
        if trainer.sanity_checking:
            self._end("sanity_check")

    def on_test_start(self, trainer, pl_module) -> None:
        self._begin("test")

    def on_test_end(self, trainer, pl_module) -> None:
        self._end("test")

    def on_predict_start(self, trainer, pl_module) -> None:
        self._begin("predict")

    def on_predict_end(self, trainer, pl_module) -> None:
        self._end("predict")

    def on_fit_start(self, trainer, pl_module) -> None:
        if self._duration is not None:
            self._check_time_remaining(trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._interval == "step" and self._duration is not None:
            self._check_time_remaining(trainer)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._interval == "epoch" and self._duration is not None:
            self._check_time_remaining(trainer)

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {"time_elapsed": {stage: float(self.time_elapsed(stage)) for stage in STAGES}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._offset = float(state_dict.get("time_elapsed", {}).get("train", 0.0))

    # ---------------------------------------------------------------- internals
    def _begin(self, stage: str) -> None:
        self._start_time[stage] = time.monotonic()
        self._end_time[stage] = None

    def _end(self, stage: str) -> None:
        self._end_time[stage] = time.monotonic()

    def _check_time_remaining(self, trainer) -> None:
        elapsed = self.time_elapsed("train")
        should_stop = elapsed >= self._duration
        broadcast = getattr(getattr(trainer, "strategy", None), "broadcast", None)
        if broadcast is not None:
            should_stop = broadcast(should_stop)
        if not should_stop:
            return
        limit = timedelta(seconds=self._duration)
        request_stop(trainer, f"Timer: max_time={limit} reached after {elapsed:.2f} s of training "
                              f"(epoch {trainer.current_epoch}, global_step={trainer.global_step})")
        if self._verbose and trainer.is_global_zero:
            CONSOLE.print(f"Time limit reached. Elapsed time is {timedelta(seconds=int(elapsed))}. Signaling Trainer to stop.")


def _stage(stage: str) -> str:
    stage = getattr(stage, "value", stage)
    if stage not in STAGES:
        raise flag_error("stage", stage, ", ".join(repr(name) for name in STAGES))
    return stage
