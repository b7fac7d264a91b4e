"""What the trainer does with its loggers around a run: build them from the flag, start, finish.

    loggers = lifecycle.resolve(logger_flag, default_root_dir)     # Trainer.__init__
    lifecycle.start(loggers, module, datamodule)                   # fit/validate/test, after on_fit_start
    lifecycle.finish(loggers, "success" | "failed" | "interrupted")  # end of every run

``start`` logs the hyperparameters the module (and datamodule) saved with
``save_hyperparameters()``, the model graph, then saves, for each logger in order: the calls and
their order are Lightning's. Metric values reach the loggers only through the metric book.
"""
from __future__ import annotations

import os
from typing import Any, Iterable

import torch

from statetrainer.errors import flag_error
from statetrainer.loggers.csv_logs import CSVLogger
from statetrainer.loggers.logger import Logger
from statetrainer.loggers.tensorboard import TensorBoardLogger

__all__ = ["DEFAULT_NAME", "resolve", "log_dir", "version_label", "start", "finish", "hparams_to_log"]

DEFAULT_NAME = "lightning_logs"
_ACCEPTED = ("True, False, None, a Logger (or an object with log_metrics, log_hyperparams, save and finalize) "
             "or a list of them")


def resolve(logger: Any, default_root_dir: str | os.PathLike) -> list[Logger]:
    """The logger list for ``Trainer(logger=...)``: True gives ``TensorBoardLogger(default_root_dir)``
    (folder ``lightning_logs``, next free version), False/None none, a Logger or a list those."""
    if logger is True:
        return [TensorBoardLogger(default_root_dir, name=DEFAULT_NAME)]
    if logger is False or logger is None:
        return []
    if _logger_like(logger):
        return [logger]
    if isinstance(logger, Iterable) and not isinstance(logger, (str, bytes)):
        loggers = list(logger)
        for item in loggers:
            if not _logger_like(item):
                raise flag_error("logger", item, _ACCEPTED)
        return loggers
    raise flag_error("logger", logger, _ACCEPTED)


def _logger_like(obj: Any) -> bool:
    """A Logger, or an object that answers like one (Lightning accepts any: a mock, a third-party logger)."""
    return isinstance(obj, Logger) or all(callable(getattr(obj, name, None))
                                          for name in ("log_metrics", "log_hyperparams", "save", "finalize"))


def log_dir(loggers: list[Logger], default_root_dir: str) -> str:
    """``trainer.log_dir``: the first logger's run folder (its save_dir for loggers without one), else default_root_dir."""
    if not loggers:
        return default_root_dir
    first = loggers[0]
    if isinstance(first, (TensorBoardLogger, CSVLogger)):
        return first.log_dir
    return first.save_dir if first.save_dir is not None else default_root_dir


def version_label(loggers: list[Logger]) -> int | str | None:
    """The version the progress bar shows as ``v_num``: one logger's version, or the distinct versions joined by '_'."""
    if not loggers:
        return None
    if len(loggers) == 1:
        return loggers[0].version
    return "_".join(dict.fromkeys(str(logger.version) for logger in loggers))


def hparams_to_log(module: Any, datamodule: Any = None) -> dict[str, Any] | None:
    """The module's and datamodule's saved hyperparameters (those saved with ``logger=True``), merged."""
    from_module = getattr(module, "_log_hyperparams", False)
    from_data = datamodule is not None and getattr(datamodule, "_log_hyperparams", False)
    if not (from_module or from_data):
        return None
    merged: dict[str, Any] = dict(module.hparams_initial) if from_module else {}
    if from_data:
        data = dict(datamodule.hparams_initial)
        clashes = [key for key in merged if key in data and key != "_class_path" and not _same(merged[key], data[key])]
        if clashes:  # a RuntimeError, as Lightning raises for this
            raise RuntimeError(
                f"hyperparameters {clashes} were saved by both the module and the datamodule with different "
                "values, so they cannot be logged together; give them the same value or different names.")
        merged.update(data)
    return {key: value for key, value in merged.items() if key != "_class_path"}


def _same(left: Any, right: Any) -> bool:
    if type(left) is not type(right):
        return False
    if isinstance(left, torch.Tensor):
        return left is right
    try:
        return bool(left == right)
    except Exception:  # values whose == is not a bool (arrays) are the same only when identical
        return left is right


def start(loggers: list[Logger], module: Any, datamodule: Any = None) -> None:
    """Log hyperparameters and graph, then save, on every logger (Lightning's ``_log_hyperparams``)."""
    if not loggers:
        return
    params = hparams_to_log(module, datamodule)
    for logger in loggers:
        if params is not None:
            logger.log_hyperparams(params)
        logger.log_graph(module)
        logger.save()


def finish(loggers: list[Logger], status: str) -> None:
    """Finalize every logger with the run's status: "success", "failed" or "interrupted"."""
    for logger in loggers:
        logger.finalize(status)
