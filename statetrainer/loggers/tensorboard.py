"""TensorBoardLogger: event files TensorBoard reads, written with tensorboardX."""
from __future__ import annotations

import os
import time
import warnings
from typing import Any, Mapping

import torch

from statetrainer.errors import flag_error
from statetrainer.loggers import hparams_file
from statetrainer.loggers.logger import _DummyExperiment, global_rank, rank_zero_only
from statetrainer.loggers.folder import FolderLogger

__all__ = ["TensorBoardLogger"]

# tensorboardX's flush ends in an fsync (about 1.4 ms here); `save()` runs after every metrics write
# (every `log_every_n_steps`), so the event file is synced at most this often, and always when the
# run ends (docs/decisions/005-tensorboard-flush-interval.md)
SAVE_FLUSH_SECONDS = 2.0


class TensorBoardLogger(FolderLogger):
    """Log to ``save_dir/name/version_N`` in TensorBoard's event-file format (``tensorboard --logdir save_dir``).

    Args:
        save_dir: the folder every experiment goes under.
        name: the experiment's folder; ``""`` or None puts versions straight under ``save_dir``.
        version: a number N gives ``version_N``, a string is the folder name as given; None takes
            the next free ``version_N``.
        log_graph: add the model's graph (traced on ``example_input_array``) when the run starts.
        default_hp_metric: with ``log_hyperparams(params)`` and no metrics, also log ``hp_metric = -1``
            so TensorBoard's HPARAMS tab shows the run.
        prefix: put ``"{prefix}-"`` in front of every metric name.
        sub_dir: an extra folder inside the version folder.
        **kwargs: passed to ``tensorboardX.SummaryWriter`` (``max_queue``, ``flush_secs``...).
    """

    NAME_HPARAMS_FILE = "hparams.yaml"
    LOGGER_JOIN_CHAR = "-"

    def __init__(self, save_dir: str | os.PathLike, name: str | None = "lightning_logs",
                 version: int | str | None = None, log_graph: bool = False, default_hp_metric: bool = True,
                 prefix: str = "", sub_dir: str | os.PathLike | None = None, **kwargs: Any) -> None:
        self._init_folder(save_dir, name, version)
        self._log_graph = bool(log_graph)
        self._default_hp_metric = default_hp_metric
        self._prefix = prefix
        self._sub_dir = None if sub_dir is None else os.fspath(sub_dir)
        self._kwargs = kwargs
        self._experiment = None
        self._writers_opened = 0
        self._last_flush: float | None = None  # time.monotonic() of save()'s last flush
        self.hparams: dict[str, Any] = {}

    @property
    def sub_dir(self) -> str | None:
        return self._sub_dir

    @property
    def log_dir(self) -> str:
        path = super().log_dir
        if self._sub_dir:
            path = os.path.join(path, self._sub_dir)
        return os.path.expanduser(os.path.expandvars(path))

    @property
    def experiment(self) -> Any:
        """The ``tensorboardX.SummaryWriter`` (opened on first use); a do-nothing object on ranks other than 0."""
        if self._experiment is None:
            if global_rank() != 0:
                return _DummyExperiment()
            from tensorboardX import SummaryWriter

            os.makedirs(self.root_dir, exist_ok=True)
            kwargs = dict(self._kwargs)
            if self._writers_opened:  # a second writer in the same second must not overwrite the first file
                kwargs["filename_suffix"] = f"{kwargs.get('filename_suffix', '')}.{self._writers_opened}"
            self._experiment = SummaryWriter(logdir=self.log_dir, **kwargs)
            self._writers_opened += 1
        return self._experiment

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        for key, value in metrics.items():
            key = f"{self._prefix}{self.LOGGER_JOIN_CHAR}{key}" if self._prefix else key
            if isinstance(value, Mapping):
                self.experiment.add_scalars(key, dict(value), step)
                continue
            try:
                value = value.item() if isinstance(value, torch.Tensor) else value
                self.experiment.add_scalar(key, float(value), step)
            except (TypeError, ValueError, RuntimeError) as err:
                raise flag_error(f"metric {key!r}", value, "a number, a one-element tensor or a dict of numbers",
                                 ValueError) from err

    @rank_zero_only
    def log_hyperparams(self, params: Any, metrics: Any = None, step: int | None = None) -> None:
        """Write hparams.yaml and TensorBoard's hparams summary; `metrics` become the HPARAMS tab's columns."""
        from tensorboardX.summary import hparams as hparams_summaries

        params = hparams_file.params_dict(params)
        self.hparams.update(params)
        os.makedirs(self.log_dir, exist_ok=True)
        hparams_file.save_yaml(os.path.join(self.log_dir, self.NAME_HPARAMS_FILE), self.hparams)
        if metrics is None:
            metrics = {"hp_metric": -1} if self._default_hp_metric else {}
        elif not isinstance(metrics, Mapping):
            metrics = {"hp_metric": metrics}
        if not metrics:
            return
        self.log_metrics(metrics, step)
        flat = hparams_file.for_tensorboard(hparams_file.flatten(params))
        writer = self.experiment._get_file_writer()
        for summary in hparams_summaries(flat, {key: float(value) for key, value in metrics.items()}):
            writer.add_summary(summary, step)

    @rank_zero_only
    def log_graph(self, model: torch.nn.Module, input_array: Any = None) -> None:
        """Trace `model` on `input_array` (default ``model.example_input_array``) and add its graph."""
        if not self._log_graph:
            return
        example = getattr(model, "example_input_array", None) if input_array is None else input_array
        if example is None or not isinstance(example, (torch.Tensor, tuple)):
            warnings.warn(f"TensorBoardLogger(log_graph=True) got input_array={example!r}; accepted: a tensor or a "
                          "tuple of positional arguments (set `example_input_array` on the module).", stacklevel=2)
            return
        from statetrainer.loggers.graph import graph_def
        from statetrainer.loop.transfer import move_to_device

        device = next(model.parameters(), torch.empty(0)).device
        try:
            graph = graph_def(model, move_to_device(example, device))
        except Exception as err:  # a model jit.trace cannot follow must not end the run
            warnings.warn(f"TensorBoardLogger could not trace {type(model).__name__} for its graph: {err}",
                          stacklevel=2)
            return
        self.experiment._get_file_writer().add_onnx_graph(graph)

    @rank_zero_only
    def save(self) -> None:
        """Flush the event file, at most every ``SAVE_FLUSH_SECONDS`` (opening it: a run that logs nothing
        still gets its folder, event file and hparams.yaml, as with Lightning); write hparams.yaml if no
        hyperparameters were logged yet. Closing the logger at the end of a run always flushes."""
        if global_rank() != 0:
            return
        experiment, now = self.experiment, time.monotonic()
        if self._last_flush is None or now - self._last_flush >= SAVE_FLUSH_SECONDS:
            experiment.flush()
            self._last_flush = now
        path = os.path.join(self.log_dir, self.NAME_HPARAMS_FILE)
        if os.path.isdir(self.log_dir) and not os.path.isfile(path):
            hparams_file.save_yaml(path, self.hparams)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Flush and close the event file (a later call opens a new one in the same folder)."""
        if self._experiment is None:
            return
        if status == "success":
            self.save()
        self._experiment.close()
        self._experiment = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_experiment"] = None
        return state
