"""MLFlowLogger: metrics, hyperparameters, tags and checkpoints to an MLflow tracking store
(Lightning's ``MLFlowLogger``; needs the optional extra ``pip install statetrainer[mlflow]``).

Where the run goes: ``tracking_uri`` if given, else the ``MLFLOW_TRACKING_URI`` environment
variable, else a local SQLite store ``sqlite:///<save_dir>/mlflow.db`` (artifacts in
``<save_dir>/artifacts``). Lightning's default is a ``file:`` store under ``save_dir``; MLflow 3
refuses file stores unless ``MLFLOW_ALLOW_FILE_STORE=true`` is set, so statetrainer defaults to
SQLite, which MLflow 2 and 3 both read (``mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db``).
The first use of a new SQLite store creates its tables, which takes MLflow several seconds.

Nothing is created before the first call that needs the run (``logger.experiment``, ``run_id``,
the first metric): the experiment is looked up by name (created when missing), then a new run is
started, or the run ``run_id`` is continued when given (resuming into the same run).
"""
from __future__ import annotations

import os
import re
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Literal, Mapping


from statetrainer.errors import flag_error
from statetrainer.loggers import hparams_file
from statetrainer.loggers.logger import Logger, _DummyExperiment, global_rank, rank_zero_only

__all__ = ["MLFlowLogger"]

_RUN_NAME_TAG = "mlflow.runName"
_STATUS = {"success": "FINISHED", "finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
_NOT_IN_A_KEY = re.compile(r"[^a-zA-Z0-9_/. -]+")


def _require_mlflow() -> None:
    try:
        import mlflow  # noqa: F401
    except ImportError as err:
        raise ModuleNotFoundError("MLFlowLogger needs the `mlflow` package, which is not installed; install it with "
                                  "`pip install statetrainer[mlflow]` (or `pip install mlflow`).") from err


class MLFlowLogger(Logger):
    """Log to MLflow.

    Args:
        experiment_name: the MLflow experiment (created when missing).
        run_name: the new run's name (the ``mlflow.runName`` tag; it wins over one given in `tags`).
        tracking_uri: where MLflow stores runs; default ``$MLFLOW_TRACKING_URI``, else SQLite under `save_dir`.
        tags: tags of the new run.
        save_dir: the local folder of the default store; unused when a tracking URI is given.
        log_model: ``True``: upload ModelCheckpoint's files as artifacts when training ends (as they are
            saved when ``save_top_k=-1``); ``"all"``: each as it is saved; ``False``: none.
        prefix: put in front of every metric name, joined with ``-``.
        artifact_location: where a newly created experiment keeps artifacts.
        run_id: continue this run instead of starting one (resuming).
        synchronous: passed to MLflow's batch logging (``None``: MLflow's default).
    """

    LOGGER_JOIN_CHAR = "-"

    def __init__(self, experiment_name: str = "lightning_logs", run_name: str | None = None,
                 tracking_uri: str | None = None, tags: dict[str, Any] | None = None,
                 save_dir: str | os.PathLike | None = "./mlruns", log_model: Literal[True, False, "all"] = False,
                 prefix: str = "", artifact_location: str | None = None, run_id: str | None = None,
                 synchronous: bool | None = None) -> None:
        _require_mlflow()
        if log_model not in (True, False, "all"):
            raise flag_error("log_model", log_model, "True, False or 'all'")
        local = os.path.abspath(os.fspath(save_dir if save_dir is not None else "./mlruns"))
        self._tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{local}/mlflow.db"
        if artifact_location is None and self._tracking_uri == f"sqlite:///{local}/mlflow.db":
            artifact_location = Path(local, "artifacts").as_uri()
        self._experiment_name = experiment_name
        self._run_name = run_name
        self.tags = dict(tags) if tags else None
        self._log_model = log_model
        self._prefix = prefix
        self._artifact_location = artifact_location
        self._run_id = run_id
        self._experiment_id: str | None = None
        self._batch_options = {} if synchronous is None else {"synchronous": synchronous}
        self._client: Any = None
        self._checkpoint_callback: Any = None
        self._logged_files: dict[str, float] = {}

    # ---------------------------------------------------------------- the run
    @property
    def experiment(self) -> Any:
        """The ``mlflow.tracking.MlflowClient`` (the run exists once this is read); a do-nothing object
        on ranks other than 0. Use it for anything MLflow offers: ``logger.experiment.log_text(logger.run_id, ...)``."""
        if global_rank() != 0:
            return _DummyExperiment()
        if self._client is None:
            self._client = self._open()
        return self._client

    def _open(self) -> Any:
        from mlflow.tracking import MlflowClient

        if self._tracking_uri.startswith("sqlite:///"):
            os.makedirs(os.path.dirname(self._tracking_uri[len("sqlite:///"):]), exist_ok=True)
        client = MlflowClient(self._tracking_uri)
        if self._run_id is not None:
            self._experiment_id = client.get_run(self._run_id).info.experiment_id
            return client
        found = client.get_experiment_by_name(self._experiment_name)
        if found is not None and found.lifecycle_stage != "deleted":
            self._experiment_id = found.experiment_id
        else:
            self._experiment_id = client.create_experiment(self._experiment_name,
                                                           artifact_location=self._artifact_location)
        run = client.create_run(self._experiment_id, tags=self._run_tags())
        self._run_id = run.info.run_id
        return client

    def _run_tags(self) -> dict[str, Any]:
        tags = dict(self.tags or {})
        if self._run_name is not None:
            if _RUN_NAME_TAG in tags and tags[_RUN_NAME_TAG] != self._run_name:
                warnings.warn(f"MLFlowLogger: run_name={self._run_name!r} replaces the {_RUN_NAME_TAG} tag "
                              f"{tags[_RUN_NAME_TAG]!r} given in `tags`.", UserWarning, stacklevel=3)
            tags[_RUN_NAME_TAG] = self._run_name
        from mlflow.tracking.context.registry import resolve_tags
        return resolve_tags(tags)  # MLflow's own tags too: source, user, git commit...

    @property
    def run_id(self) -> str | None:
        """The run's id (starting the run if needed)."""
        _ = self.experiment
        return self._run_id

    @property
    def experiment_id(self) -> str | None:
        _ = self.experiment
        return self._experiment_id

    @property
    def name(self) -> str | None:
        """The experiment id (as Lightning's MLFlowLogger)."""
        return self.experiment_id

    @property
    def version(self) -> str | None:
        """The run id (the progress bar shows its last 4 characters as ``v_num``)."""
        return self.run_id

    @property
    def save_dir(self) -> str | None:
        """The local folder of the store for ``file:`` and ``sqlite:///`` URIs, else None."""
        uri = self._tracking_uri
        if uri.startswith("file:"):
            return uri[len("file:"):]
        if uri.startswith("sqlite:///"):
            return os.path.dirname(uri[len("sqlite:///"):])
        return None

    # ---------------------------------------------------------------- logging
    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:
        from mlflow.entities import Param

        flat = hparams_file.flatten(hparams_file.to_plain(hparams_file.params_dict(params)))
        entries = [Param(key, str(value)[:250]) for key, value in flat.items()]
        for start in range(0, len(entries), 100):  # MLflow takes at most 100 params per batch
            self.experiment.log_batch(self.run_id, params=entries[start:start + 100], **self._batch_options)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        entries = []
        for key, value in metrics.items():
            key = f"{self._prefix}{self.LOGGER_JOIN_CHAR}{key}" if self._prefix else key
            if isinstance(value, str):
                warnings.warn(f"MLFlowLogger: metric {key}={value!r} is text, which MLflow cannot store; "
                              "left out.", UserWarning, stacklevel=2)
                continue
            clean = _NOT_IN_A_KEY.sub("", key)
            if clean != key:
                warnings.warn(f"MLFlowLogger: metric name {key!r} has characters MLflow refuses; logged as "
                              f"{clean!r}.", RuntimeWarning, stacklevel=2)
            value = value.item() if hasattr(value, "item") else value
            entries.append(Metric(clean, float(value), stamp, step or 0))
        self.experiment.log_batch(self.run_id, metrics=entries, **self._batch_options)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Upload the checkpoints still due (``log_model=True``) and close the run with MLflow's status."""
        if self._client is None:
            return
        if self._checkpoint_callback is not None:
            self._log_checkpoints(self._checkpoint_callback)
        self._client.set_terminated(self._run_id, _STATUS.get(status, "FINISHED"))

    # ---------------------------------------------------------------- checkpoints
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if self._log_model == "all" or (self._log_model is True and checkpoint_callback.save_top_k == -1):
            self._log_checkpoints(checkpoint_callback)
        elif self._log_model is True:
            self._checkpoint_callback = checkpoint_callback

    def _log_checkpoints(self, callback: Any) -> None:
        """Upload each of the callback's files not yet uploaded in its current version, into a folder
        named after the file, with a ``metadata.yaml`` (score, aliases, the callback's settings)."""
        import yaml  # here, not at import: statetrainer's import stays light

        for path, score in _checkpoint_files(callback).items():
            stamp = os.path.getmtime(path)
            if self._logged_files.get(path) == stamp:
                continue
            folder = Path(path).stem
            self.experiment.log_artifact(self.run_id, path, folder)
            with tempfile.TemporaryDirectory() as scratch:
                with open(os.path.join(scratch, "metadata.yaml"), "w", encoding="utf-8") as handle:
                    yaml.safe_dump(_metadata(callback, path, score), handle, sort_keys=False)
                self.experiment.log_artifacts(self.run_id, scratch, folder)
            self._logged_files[path] = stamp

    def __getstate__(self) -> dict[str, Any]:
        state = dict(vars(self))
        state["_client"] = None  # reopened on first use
        return state


def _checkpoint_files(callback: Any) -> dict[str, Any]:
    """Existing files of a ModelCheckpoint: its top-k (with scores), the last and the best file."""
    files = {path: score for path, score in dict(getattr(callback, "best_k_models", {}) or {}).items()}
    for path in (getattr(callback, "last_model_path", ""), getattr(callback, "best_model_path", "")):
        if path and path not in files:
            files[path] = None
    return {path: score for path, score in files.items() if os.path.isfile(path)}


def _metadata(callback: Any, path: str, score: Any) -> dict[str, Any]:
    settings = ("monitor", "mode", "save_last", "save_top_k", "save_weights_only")
    return {
        "score": float(score) if score is not None else None,
        "original_filename": Path(path).name,
        "aliases": ["latest", "best"] if path == getattr(callback, "best_model_path", None) else ["latest"],
        "checkpoint": {name: getattr(callback, name) for name in settings if hasattr(callback, name)},
    }
