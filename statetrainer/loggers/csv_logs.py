"""CSVLogger: ``metrics.csv`` (one column per metric, one row per log call) and ``hparams.yaml``."""
from __future__ import annotations

import csv
import os
import warnings
from typing import Any, Mapping

import torch

from statetrainer.errors import flag_error
from statetrainer.loggers import hparams_file
from statetrainer.loggers.logger import _DummyExperiment, global_rank, rank_zero_only
from statetrainer.loggers.folder import FolderLogger

__all__ = ["CSVLogger"]


class _MetricsFile:
    """Buffers rows and appends them to metrics.csv; a new metric name rewrites the file with the wider header."""

    NAME_METRICS_FILE = "metrics.csv"

    def __init__(self, log_dir: str) -> None:
        self.log_dir = log_dir
        self.metrics_file_path = os.path.join(log_dir, self.NAME_METRICS_FILE)
        self.metrics: list[dict[str, Any]] = []
        self.metrics_keys: list[str] = []
        self.hparams: dict[str, Any] = {}
        if os.path.isfile(self.metrics_file_path):
            warnings.warn(f"CSVLogger found {self.metrics_file_path} from an earlier run; it will be replaced.",
                          stacklevel=3)
            os.remove(self.metrics_file_path)
        os.makedirs(log_dir, exist_ok=True)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Buffer one row; without `step`, the row's step is the number of rows waiting to be written (as the
        logger's own default)."""
        row = {key: value.item() if isinstance(value, torch.Tensor) else value for key, value in metrics.items()}
        row["step"] = len(self.metrics) if step is None else step
        self.metrics.append(row)

    def log_hparams(self, params: Mapping[str, Any]) -> None:
        self.hparams.update(params)
        hparams_file.save_yaml(os.path.join(self.log_dir, CSVLogger.NAME_HPARAMS_FILE), self.hparams)

    def save(self) -> None:
        if not self.metrics:
            return
        new_keys = sorted({key for row in self.metrics for key in row} - set(self.metrics_keys))
        exists = os.path.isfile(self.metrics_file_path)
        self.metrics_keys = sorted(self.metrics_keys + new_keys)
        if new_keys and exists:
            with open(self.metrics_file_path, newline="", encoding="utf-8") as handle:
                self.metrics = list(csv.DictReader(handle)) + self.metrics
            exists = False
        with open(self.metrics_file_path, "a" if exists else "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.metrics_keys)
            if not exists:
                writer.writeheader()
            writer.writerows(self.metrics)
        self.metrics = []


class CSVLogger(FolderLogger):
    """Log to ``save_dir/name/version_N/metrics.csv`` and ``hparams.yaml``; readable with ``csv`` or pandas.

    Columns are the metric names plus ``step``, sorted; a row has the values logged in one call
    and empty cells elsewhere. Rows are buffered and written every ``flush_logs_every_n_steps``
    steps and when the run ends.
    """

    NAME_HPARAMS_FILE = "hparams.yaml"
    LOGGER_JOIN_CHAR = "-"

    def __init__(self, save_dir: str | os.PathLike, name: str | None = "lightning_logs",
                 version: int | str | None = None, prefix: str = "", flush_logs_every_n_steps: int = 100) -> None:
        if not isinstance(flush_logs_every_n_steps, int) or flush_logs_every_n_steps < 1:
            raise flag_error("flush_logs_every_n_steps", flush_logs_every_n_steps, "an int >= 1")
        self._init_folder(save_dir, name, version)
        self._prefix = prefix
        self._flush_every = flush_logs_every_n_steps
        self._experiment: _MetricsFile | None = None

    @property
    def experiment(self) -> Any:
        """The metrics.csv writer (created on first use); a do-nothing object on ranks other than 0."""
        if self._experiment is None:
            if global_rank() != 0:
                return _DummyExperiment()
            self._experiment = _MetricsFile(self.log_dir)
        return self._experiment

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        if self._prefix:
            metrics = {f"{self._prefix}{self.LOGGER_JOIN_CHAR}{key}": value for key, value in metrics.items()}
        if step is None:
            step = len(self.experiment.metrics)
        self.experiment.log_metrics(metrics, step)
        if (step + 1) % self._flush_every == 0:
            self.save()

    @rank_zero_only
    def log_hyperparams(self, params: Any = None) -> None:
        self.experiment.log_hparams(hparams_file.params_dict(params))

    @rank_zero_only
    def save(self) -> None:
        self.experiment.save()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._experiment is not None:
            self.save()
