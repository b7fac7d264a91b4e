"""ThroughputMonitor: log batches, samples (and items, FLOPs) per second while training and evaluating.

For every batch it adds ``batch_size_fn(batch)`` samples (and ``length_fn(batch)`` items, e.g. tokens)
to running totals and the elapsed time; rates are the change over the last ``window_size`` batches.
The metrics, under ``<stage>/`` (train, validate, test, predict), go to the trainer's loggers at
Lightning's rhythm: in training once per optimizer step when the step count meets
``log_every_n_steps`` (with the ``epoch``), in evaluation every ``log_every_n_steps`` batches:

    time, batches, samples, [lengths]             totals of the stage so far
    device/batches_per_sec, device/samples_per_sec    once the window is full
    device/items_per_sec                           with length_fn
    device/flops_per_sec                           when the module has a ``flops_per_batch`` attribute
    device/mfu                                     flops_per_sec / available_flops (when given)
    batches_per_sec, samples_per_sec, ...          the same for all processes, when there are several

Validation time inside fit is not counted as training time. Only global rank 0 measures and logs.
"""
from __future__ import annotations

import time
import warnings
from collections import deque
from typing import Any, Callable, Optional

import torch

from statetrainer.callbacks.callback import Callback
from statetrainer.errors import flag_error

__all__ = ["ThroughputMonitor"]

_STAGES = {"fit": ("train", "validate"), "validate": ("validate",), "test": ("test",), "predict": ("predict",)}


class ThroughputMonitor(Callback):
    """Measure and log throughput (see the module docstring).

    Args:
        batch_size_fn: ``batch -> number of samples`` in it.
        length_fn: ``batch -> number of items`` (tokens, pixels...) in it; optional.
        window_size: how many batches the rates are computed over (>= 2; default 100).
        separator: joins the parts of the metric names (default "/").
        available_flops: the peak FLOPs per second of one device, for ``device/mfu`` (not looked up).
    """

    def __init__(self, batch_size_fn: Callable[[Any], int], length_fn: Optional[Callable[[Any], int]] = None,
                 window_size: int = 100, separator: str = "/", available_flops: Optional[float] = None) -> None:
        if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 2:
            raise flag_error("ThroughputMonitor(window_size)", window_size, "an int >= 2 (rates need two points)")
        self.batch_size_fn = batch_size_fn
        self.length_fn = length_fn
        self.window_size = window_size
        self.separator = separator
        self.available_flops = available_flops
        self._windows: dict[str, _Window] = {}
        self._t0s: dict[str, float] = {}
        self._totals: dict[str, list[int]] = {}   # stage -> [batches, samples, lengths]
        self._run_batches: dict[str, int] = {}     # stage -> batches in the current run
        self._iterations: dict[tuple, int] = {}    # (fn, stage) -> evaluation batches (the logged step)
        self._module_has_flops: Optional[bool] = None

    # ---------------------------------------------------------------- stages
    def setup(self, trainer, pl_module, stage: str) -> None:
        for name in _STAGES.get(stage, (stage,)):
            self._windows[name] = _Window(self.window_size, trainer.world_size, self.available_flops)

    def _start(self, trainer, stage: str) -> None:
        if _fn(trainer) == "fit":  # inside fit, each validation run logs its batches from 1 (Lightning)
            self._iterations[("fit", stage)] = 0
        if _fn(trainer) == "fit" or stage not in self._totals:
            self._windows[stage].reset()
            self._totals[stage] = [0, 0, 0]
        self._run_batches[stage] = 0
        self._t0s[stage] = time.perf_counter()

    def on_train_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self._start(trainer, "train")

    def on_validation_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero and not trainer.sanity_checking:
            self._start(trainer, "validate")

    def on_test_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self._start(trainer, "test")

    def on_predict_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self._start(trainer, "predict")

    def on_validation_end(self, trainer, pl_module) -> None:
        """Inside fit: move the training clock forward by the validation time."""
        if not trainer.is_global_zero or trainer.sanity_checking or _fn(trainer) != "fit":
            return
        train, val = self._windows["train"].times, self._windows["validate"].times
        training_done = self._t0s["train"] + (train[-1] if train else 0.0)
        self._t0s["train"] += self._t0s["validate"] - training_done + (val[-1] if val else 0.0)

    # ---------------------------------------------------------------- batches
    def on_train_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int) -> None:
        if not trainer.is_global_zero:
            return
        self._update(trainer, pl_module, "train", batch)
        stepping = (batch_idx + 1) % trainer.accumulate_grad_batches == 0 or trainer.is_last_batch
        if stepping and _due(trainer, _steps_done(trainer) + 1):
            self._log(trainer, "train", _steps_done(trainer), {"epoch": trainer.current_epoch})

    def on_validation_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        if trainer.is_global_zero and not trainer.sanity_checking:
            self._evaluation_batch(trainer, pl_module, "validate", batch)

    def on_test_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int,
                          dataloader_idx: int = 0) -> None:
        if trainer.is_global_zero:
            self._evaluation_batch(trainer, pl_module, "test", batch)

    def on_predict_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int,
                             dataloader_idx: int = 0) -> None:
        if trainer.is_global_zero:
            self._evaluation_batch(trainer, pl_module, "predict", batch)

    def _evaluation_batch(self, trainer, pl_module, stage: str, batch: Any) -> None:
        self._update(trainer, pl_module, stage, batch)
        self._run_batches[stage] += 1
        key = (_fn(trainer), stage)
        self._iterations[key] = self._iterations.get(key, 0) + 1
        if _due(trainer, self._run_batches[stage]):
            self._log(trainer, stage, self._iterations[key])

    @torch.inference_mode()
    def _update(self, trainer, pl_module, stage: str, batch: Any) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()  # otherwise the clock stops before the device has finished
        elapsed = time.perf_counter() - self._t0s[stage]
        totals = self._totals[stage]
        if self.length_fn is not None:
            totals[2] += self.length_fn(batch)
        totals[0] += 1
        totals[1] += self.batch_size_fn(batch)
        self._windows[stage].update(elapsed, totals[0], totals[1], totals[2] if self.length_fn else None,
                                    self._flops(pl_module))

    def _flops(self, pl_module) -> Optional[float]:
        if self._module_has_flops is None:
            self._module_has_flops = hasattr(pl_module, "flops_per_batch")
            if not self._module_has_flops:
                warnings.warn(f"ThroughputMonitor logs no FLOPs: {type(pl_module).__name__} has no `flops_per_batch` "
                              "attribute (set it, e.g. from torch.utils.flop_counter, to get device/flops_per_sec).",
                              UserWarning, stacklevel=2)
        return pl_module.flops_per_batch if self._module_has_flops else None

    def _log(self, trainer, stage: str, step: int, extra: Optional[dict] = None) -> None:
        metrics = {f"{stage}{self.separator}{key}": value
                   for key, value in self._windows[stage].compute(self.separator).items()}
        metrics.update(extra or {})
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)
            logger.save()


class _Window:
    """Running totals and the last `size` of them, from which the rates are computed."""

    def __init__(self, size: int, world_size: int, available_flops: Optional[float]) -> None:
        self.world_size = world_size
        self.available_flops = available_flops
        self.times: deque = deque(maxlen=size)
        self.batches: deque = deque(maxlen=size)
        self.samples: deque = deque(maxlen=size)
        self.lengths: deque = deque(maxlen=size)
        self.flops: deque = deque(maxlen=size)

    def reset(self) -> None:
        for values in (self.times, self.batches, self.samples, self.lengths, self.flops):
            values.clear()

    def update(self, elapsed: float, batches: int, samples: int, lengths: Optional[int],
               flops: Optional[float]) -> None:
        if samples < batches:
            raise ValueError(f"ThroughputMonitor: batch_size_fn gave {samples} samples in {batches} batches; "
                             "accepted: at least one sample per batch.")
        if lengths is not None and lengths < samples:
            raise ValueError(f"ThroughputMonitor: length_fn gave {lengths} items for {samples} samples; accepted: "
                             "at least one item per sample.")
        self.times.append(elapsed)
        self.batches.append(batches)
        self.samples.append(samples)
        if lengths is not None:
            self.lengths.append(lengths)
        if flops is not None:
            self.flops.append(flops * self.world_size)  # every process ran the same batch size

    def compute(self, sep: str) -> dict[str, float]:
        metrics: dict[str, float] = {"time": self.times[-1], "batches": self.batches[-1],
                                     "samples": self.samples[-1]}
        if self.lengths:
            metrics["lengths"] = self.lengths[-1]
        many = self.world_size > 1
        span = self.times[-1] - self.times[0]
        if len(self.times) == self.times.maxlen and span > 0:
            for name, values in (("batches", self.batches), ("samples", self.samples), ("items", self.lengths)):
                if name == "items" and len(values) < values.maxlen:
                    continue
                rate = (values[-1] - values[0]) / span
                metrics[f"device{sep}{name}_per_sec"] = rate
                if many:
                    metrics[f"{name}_per_sec"] = rate * self.world_size
        if len(self.flops) == self.flops.maxlen and span > 0:
            total = (sum(self.flops) - self.flops[0]) / span
            if many:
                metrics["flops_per_sec"] = total
            metrics[f"device{sep}flops_per_sec"] = total / self.world_size
            if self.available_flops:
                metrics[f"device{sep}mfu"] = total / self.world_size / self.available_flops
        return metrics


def _fn(trainer) -> str:
    fn = trainer.state.fn
    return getattr(fn, "value", fn)


def _steps_done(trainer) -> int:
    """Optimizer steps taken before this one (the step Lightning logs training metrics at)."""
    book = getattr(trainer, "_metrics", None)
    return getattr(book, "batches_that_stepped", trainer.global_step)


def _due(trainer, count: int) -> bool:
    every = trainer.log_every_n_steps
    return bool(every) and (count % every == 0 or bool(trainer.should_stop))
