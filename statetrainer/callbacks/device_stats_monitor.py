"""DeviceStatsMonitor: log the device's statistics around every training, validation and test batch.

On a CUDA device the statistics are torch's allocator counters (``torch.cuda.memory_stats``:
allocated/reserved/active bytes, allocation counts, out-of-memory count...). On the CPU they are
``cpu_percent``, ``cpu_vm_percent`` and ``cpu_swap_percent`` from psutil (the optional extra
``statetrainer[devicestats]``). ``cpu_stats``: None logs CPU statistics only when training on the
CPU, True adds them on any device, False never logs them. Names are
``DeviceStatsMonitor.<hook><separator><statistic>`` (the separator is the logger's
``group_separator``), logged at the optimizer-step count on the batches where the trainer's
``log_every_n_steps`` rhythm logs, as Lightning does.
"""
from __future__ import annotations

from typing import Any, Optional

import torch

from statetrainer.callbacks.callback import Callback
from statetrainer.errors import MisconfigurationError

__all__ = ["DeviceStatsMonitor"]


class DeviceStatsMonitor(Callback):
    """Log device statistics during training, validation and testing (needs a logger).

    Args:
        cpu_stats: None (CPU statistics only on a CPU run), True (always) or False (never).
    """

    def __init__(self, cpu_stats: Optional[bool] = None) -> None:
        self._cpu_stats = cpu_stats
        self._eval_batches = 0  # batches of the current evaluation run, for the logging rhythm

    def setup(self, trainer, pl_module, stage: str) -> None:
        if stage != "fit":
            return
        if not trainer.loggers:
            raise MisconfigurationError("DeviceStatsMonitor needs a logger to write to; the Trainer has logger=False "
                                        "(accepted: logger=True, a Logger or a list of Loggers).")
        if self._cpu_stats is not False and _wants_cpu(self._cpu_stats, trainer.strategy.root_device):
            _cpu_stats()  # fails now, with the reason, if psutil is missing

    # ---------------------------------------------------------------- hooks
    def on_train_batch_start(self, trainer, pl_module, batch: Any, batch_idx: int) -> None:
        self._log(trainer, "on_train_batch_start", _steps_done(trainer) + 1)

    def on_train_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._log(trainer, "on_train_batch_end", _steps_done(trainer) + 1)

    def on_validation_start(self, trainer, pl_module) -> None:
        self._eval_batches = 0

    def on_test_start(self, trainer, pl_module) -> None:
        self._eval_batches = 0

    def on_validation_batch_start(self, trainer, pl_module, batch: Any, batch_idx: int,
                                  dataloader_idx: int = 0) -> None:
        self._eval_batches += 1
        self._log(trainer, "on_validation_batch_start", self._eval_batches)

    def on_validation_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        self._log(trainer, "on_validation_batch_end", self._eval_batches)

    def on_test_batch_start(self, trainer, pl_module, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._eval_batches += 1
        self._log(trainer, "on_test_batch_start", self._eval_batches)

    def on_test_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int,
                          dataloader_idx: int = 0) -> None:
        self._log(trainer, "on_test_batch_end", self._eval_batches)

    # ---------------------------------------------------------------- statistics
    def _log(self, trainer, hook: str, count: int) -> None:
        every = trainer.log_every_n_steps
        if not every or not (count % every == 0 or trainer.should_stop):
            return
        stats = self._stats(trainer.strategy.root_device)
        if not stats:
            return
        for logger in trainer.loggers:
            separator = getattr(logger, "group_separator", "/")
            prefix = f"{type(self).__qualname__}.{hook}{separator}"
            logger.log_metrics({prefix + name: value for name, value in stats.items()}, step=_steps_done(trainer))

    def _stats(self, device: torch.device) -> dict[str, float]:
        stats: dict[str, float] = {}
        if device.type == "cuda":
            stats.update(torch.cuda.memory_stats(device))
        if _wants_cpu(self._cpu_stats, device):
            stats.update(_cpu_stats())
        return stats


def _wants_cpu(cpu_stats: Optional[bool], device: torch.device) -> bool:
    return bool(cpu_stats) or (cpu_stats is None and device.type == "cpu")


def _cpu_stats() -> dict[str, float]:
    try:
        import psutil
    except ImportError as error:
        raise ModuleNotFoundError("DeviceStatsMonitor reads CPU statistics with psutil, which is not installed: "
                                  "pip install 'statetrainer[devicestats]' (or psutil), or pass cpu_stats=False.") \
            from error
    return {"cpu_vm_percent": psutil.virtual_memory().percent, "cpu_percent": psutil.cpu_percent(),
            "cpu_swap_percent": psutil.swap_memory().percent}


def _steps_done(trainer) -> int:
    """Optimizer steps taken so far (the step Lightning logs these statistics at)."""
    book = getattr(trainer, "_metrics", None)
    return getattr(book, "batches_that_stepped", trainer.global_step)
