"""ModelCheckpoint: save the model periodically, keep the top-k by a monitored metric, and a last file.

Arguments, file names, the top-k bookkeeping and the state saved in checkpoints are Lightning's
(``lightning.pytorch.callbacks.ModelCheckpoint``, 2.x), so the same settings produce the same
files. Differences, all documented in docs/checkpoints.md:

- an interrupted fit (Ctrl-C, SIGTERM: ``trainer.interrupted``) writes the last-file (``last.ckpt``)
  of the last completed step even when ``save_last`` is off, so ``fit(ckpt_path="last")`` resumes;
- temporaries left by a killed writer are removed in ``setup``;
- only global rank 0 touches the file system.
"""

import os
import shutil
import time
import warnings
from datetime import timedelta
from typing import Any, Literal

import torch

from statetrainer.callbacks.checkpoint import Checkpoint
from statetrainer.console import CONSOLE
from statetrainer.checkpoint import naming
from statetrainer.checkpoint.io import remove_stale_temporaries
from statetrainer.checkpoint.resolve import default_dirpath, last_files
from statetrainer.checkpoint.topk import TopK
from statetrainer.errors import MisconfigurationError, flag_error

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Checkpoint):
    """Save checkpoints during fit: every n epochs / n steps / time interval, top-k by `monitor`, last."""

    CHECKPOINT_JOIN_CHAR = naming.JOIN
    CHECKPOINT_EQUALS_CHAR = naming.EQUALS
    CHECKPOINT_NAME_LAST = "last"
    FILE_EXTENSION = ".ckpt"
    STARTING_VERSION = 1

    def __init__(self, dirpath: str | os.PathLike | None = None, filename: str | None = None,
                 monitor: str | None = None, verbose: bool = False, save_last: bool | Literal["link"] | None = None,
                 save_top_k: int = 1, save_on_exception: bool = False, save_weights_only: bool = False,
                 mode: str = "min", auto_insert_metric_name: bool = True, every_n_train_steps: int | None = None,
                 train_time_interval: timedelta | None = None, every_n_epochs: int | None = None,
                 save_on_train_epoch_end: bool | None = None, enable_version_counter: bool = True) -> None:
        self.monitor = monitor
        self.verbose = verbose
        self.save_last = save_last
        self.save_top_k = save_top_k
        self.save_on_exception = save_on_exception
        self.save_weights_only = save_weights_only
        self.auto_insert_metric_name = auto_insert_metric_name
        self._save_on_train_epoch_end = save_on_train_epoch_end
        self._enable_version_counter = enable_version_counter
        self._dirpath_given = dirpath is not None
        self.dirpath = _local_or_url(dirpath)
        self.filename = filename
        self._topk = TopK(mode, save_top_k)
        self.mode = mode
        self._init_triggers(every_n_train_steps, every_n_epochs, train_time_interval)
        self._check_configuration()
        self.current_score: torch.Tensor | None = None
        self.last_model_path = ""
        self._last_global_step_saved = 0  # nothing to save before the first step
        self._last_checkpoint_saved = ""
        self._last_file_at: tuple = ()  # (global_step, current_epoch) when the last-file was last written
        self._last_time_checked: float | None = None
        self._defer_save_until_validation = False
        self._validation_ran = False

    # ---------------------------------------------------------------- Lightning's public attributes
    best_k_models = property(lambda self: self._topk.scores)
    best_model_path = property(lambda self: self._topk.best_path)
    best_model_score = property(lambda self: self._topk.best_score)
    kth_best_model_path = property(lambda self: self._topk.kth_path)
    kth_value = property(lambda self: self._topk.kth_value)
    every_n_epochs = property(lambda self: self._every_n_epochs)

    @property
    def state_key(self) -> str:
        return self._generate_state_key(monitor=self.monitor, mode=self.mode,
                                        every_n_train_steps=self._every_n_train_steps,
                                        every_n_epochs=self._every_n_epochs,
                                        train_time_interval=self._train_time_interval)

    # ---------------------------------------------------------------- hooks
    def setup(self, trainer, pl_module, stage: str) -> None:
        self.dirpath = _broadcast(trainer, self._resolve_dirpath(trainer))
        if self.save_last == "link" and "://" in self.dirpath:
            raise MisconfigurationError(f"`ModelCheckpoint(save_last='link')` got dirpath {self.dirpath!r}, which is not "
                                        "a local folder; accepted: a local dirpath (a link is a local file-system "
                                        "entry), or save_last=True.")
        if trainer.is_global_zero and stage == "fit":
            remove_stale_temporaries(self.dirpath)
            if self.save_top_k != 0 and os.path.isdir(self.dirpath) and os.listdir(self.dirpath):
                warnings.warn(f"Checkpoint directory {self.dirpath} exists and is not empty.", UserWarning)

    def on_train_start(self, trainer, pl_module) -> None:
        self._last_time_checked = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int) -> None:
        if not self._batch_trigger(trainer):
            return
        candidates = self._monitor_candidates(trainer)
        if self.monitor is not None and self.monitor not in candidates:
            self._defer_save_until_validation = True
            return
        if self.monitor is not None and self._validation_will_follow(trainer):
            self._defer_save_until_validation = True
            return
        if self._should_skip_saving_checkpoint(trainer):
            return
        self._save_topk_checkpoint(trainer, candidates)
        self._save_last_checkpoint(trainer, candidates)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._should_skip_saving_checkpoint(trainer) or not self._should_save_on_train_epoch_end(trainer):
            return
        self._save_at_epoch_boundary(trainer, self._monitor_candidates(trainer))

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._validation_ran = True
        if self._should_skip_saving_checkpoint(trainer) or self._should_save_on_train_epoch_end(trainer):
            return
        candidates = self._monitor_candidates(trainer)
        if self._defer_save_until_validation:
            self._defer_save_until_validation = False
            self._save_topk_checkpoint(trainer, candidates)
            self._save_last_checkpoint(trainer, candidates)
            return
        self._save_at_epoch_boundary(trainer, candidates)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.save_last and not self._last_checkpoint_saved:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if trainer.fast_dev_run or trainer.sanity_checking or _fn(trainer) != "fit":
            return
        candidates = self._monitor_candidates(trainer)
        if self.save_on_exception and self._last_global_step_saved != trainer.global_step:
            self._save_checkpoint(trainer, self.format_checkpoint_name(candidates))
            self._save_last_checkpoint(trainer, candidates)
        if _interrupted(trainer, exception) and trainer.global_step > 0 and (
                self._last_file_at != _where(trainer) or not os.path.exists(self.last_model_path)):
            self._save_last_checkpoint(trainer, candidates, force=True)

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "best_model_score": self.best_model_score,
                "best_model_path": self.best_model_path, "current_score": self.current_score,
                "dirpath": self.dirpath, "best_k_models": dict(self.best_k_models),
                "kth_best_model_path": self.kth_best_model_path, "kth_value": self.kth_value,
                "last_model_path": self.last_model_path}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved_dirpath = state_dict.get("dirpath", self.dirpath)
        if self.dirpath == saved_dirpath:
            self._topk.restore(state_dict)
            self.last_model_path = state_dict.get("last_model_path", self.last_model_path)
        else:
            warnings.warn(f"The dirpath has changed from {saved_dirpath!r} to {self.dirpath!r}: only "
                          "`best_model_path` is restored, not the scores, the top-k files or `last_model_path`.")
        self._topk.best_path = state_dict["best_model_path"]

    # ---------------------------------------------------------------- names
    def format_checkpoint_name(self, metrics: dict[str, Any], filename: str | None = None, ver: int | None = None,
                               prefix: str | None = None) -> str:
        """The path for `metrics`: the template filled in, ``-v{ver}`` appended, in ``dirpath``."""
        stem = naming.format_stem(filename or self.filename, metrics, self.auto_insert_metric_name, prefix)
        if ver is not None:
            stem = self.CHECKPOINT_JOIN_CHAR.join((stem, f"v{ver}"))
        name = f"{stem}{self.FILE_EXTENSION}"
        return os.path.join(self.dirpath, name) if self.dirpath else name

    def file_exists(self, filepath: str, trainer) -> bool:
        local = os.path.exists(filepath) if trainer.is_global_zero else False
        return _agree(trainer, local, all=False)

    def to_yaml(self, filepath: str | None = None) -> None:
        """Write ``best_k_models`` (path: score) as YAML, by default to ``dirpath/best_k_models.yaml``."""
        import yaml
        filepath = filepath or os.path.join(self.dirpath, "best_k_models.yaml")
        with open(filepath, "w", encoding="utf-8") as handle:
            yaml.safe_dump({path: float(score) for path, score in self.best_k_models.items()}, handle)

    def _versioned_path(self, trainer, candidates: dict, template: str | None, keep: str | None) -> str:
        path = self.format_checkpoint_name(candidates, template)
        version = self.STARTING_VERSION
        while self._enable_version_counter and path != keep and self.file_exists(path, trainer):
            path = self.format_checkpoint_name(candidates, template, ver=version)
            version += 1
        return path

    # ---------------------------------------------------------------- saving
    def _save_at_epoch_boundary(self, trainer, candidates: dict) -> None:
        if self._every_n_epochs >= 1 and (trainer.current_epoch + 1) % self._every_n_epochs == 0:
            self._save_topk_checkpoint(trainer, candidates)
        if self._last_global_step_saved == trainer.global_step or (
                self.save_last == "link" and self._last_checkpoint_saved):
            self._save_last_checkpoint(trainer, candidates)

    def _save_topk_checkpoint(self, trainer, candidates: dict) -> None:
        if self.save_top_k == 0:
            return
        if self.monitor is None:
            self._save_none_monitor_checkpoint(trainer, candidates)
            return
        if self.monitor not in candidates:
            message = (f"`ModelCheckpoint(monitor={self.monitor!r})` could not find the monitored key in the "
                       f"returned metrics: {list(candidates)}. HINT: Did you call `log({self.monitor!r}, value)` "
                       "in the `StateModule`?")
            if self._validation_ran:
                raise MisconfigurationError(message)
            warnings.warn(message, UserWarning)
        self._save_monitor_checkpoint(trainer, candidates)

    def _save_monitor_checkpoint(self, trainer, candidates: dict) -> None:
        current = candidates.get(self.monitor)
        where = f"Epoch {int(candidates['epoch'])}, global step {int(candidates['step'])}: {self.monitor!r}"
        if current is None or not _agree(trainer, self._topk.accepts(current)):
            if self.verbose and current is not None:
                _info(trainer, f"{where} was not in top {self.save_top_k}")
            return
        k = self._topk.capacity()
        removed = self._topk.pop_kth_if_full(k)
        path = self._versioned_path(trainer, candidates, None, removed)
        self.current_score = self._topk.add(path, current, k)
        if self.verbose:
            _info(trainer, f"{where} reached {float(current):0.5f} (best {float(self.best_model_score):0.5f}), "
                           f"saving model to {path!r} as top {k}")
        self._save_checkpoint(trainer, path)
        if removed and self._should_remove(trainer, removed, path):
            self._remove(trainer, removed)

    def _save_none_monitor_checkpoint(self, trainer, candidates: dict) -> None:
        path = self._versioned_path(trainer, candidates, None, self.best_model_path)
        previous, self._topk.best_path = self.best_model_path, path
        self._save_checkpoint(trainer, path)
        if self.save_top_k == 1 and previous and self._should_remove(trainer, previous, path):
            self._remove(trainer, previous)

    def _save_last_checkpoint(self, trainer, candidates: dict, force: bool = False) -> None:
        if not self.save_last and not force:
            return
        path = self._versioned_path(trainer, candidates, self.CHECKPOINT_NAME_LAST, self.last_model_path)
        previous, self.last_model_path = self.last_model_path, path
        if self.save_last == "link" and self._last_checkpoint_saved and self.save_top_k != 0 and not force:
            self._link(trainer, self._last_checkpoint_saved, path)
        else:
            self._save_checkpoint(trainer, path)
        self._last_file_at = _where(trainer)
        if previous and self._should_remove(trainer, previous, path):
            self._remove(trainer, previous)

    def _save_checkpoint(self, trainer, path: str) -> None:
        trainer.save_checkpoint(path, self.save_weights_only)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = path
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(self)

    @staticmethod
    def _link(trainer, target: str, link: str) -> None:
        if trainer.is_global_zero and os.path.abspath(target) != os.path.abspath(link):
            if os.path.islink(link) or os.path.isfile(link):
                os.remove(link)
            elif os.path.isdir(link):
                shutil.rmtree(link)
            try:
                os.symlink(os.path.relpath(target, os.path.dirname(link)), link)
            except OSError:  # no symlinks here (some file systems, Windows without rights): copy
                shutil.copy(target, link)
        _barrier(trainer)

    def _should_remove(self, trainer, previous: str, current: str) -> bool:
        """Never the file just written, one outside dirpath, or the one this fit resumed from."""
        if previous == current:
            return False
        previous = os.path.abspath(previous)
        resumed = getattr(trainer, "ckpt_path", None) or getattr(trainer, "_ckpt_path", None)
        if resumed is not None and os.path.abspath(os.fspath(resumed)) == previous:
            return False
        return os.path.dirname(previous).startswith(os.path.abspath(self.dirpath))

    @staticmethod
    def _remove(trainer, path: str) -> None:
        if trainer.is_global_zero and (os.path.isfile(path) or os.path.islink(path)):
            os.remove(path)

    # ---------------------------------------------------------------- when
    def _init_triggers(self, every_n_train_steps, every_n_epochs, train_time_interval) -> None:
        if every_n_train_steps is None and every_n_epochs is None and train_time_interval is None:
            every_n_epochs, every_n_train_steps = 1, 0
        self._every_n_epochs = every_n_epochs or 0
        self._every_n_train_steps = every_n_train_steps or 0
        self._train_time_interval = train_time_interval

    def _check_configuration(self) -> None:
        if self.save_top_k < -1:
            raise flag_error("ModelCheckpoint(save_top_k)", self.save_top_k, "-1 (all), 0 (none) or k >= 1")
        if self._every_n_train_steps < 0:
            raise flag_error("ModelCheckpoint(every_n_train_steps)", self._every_n_train_steps, "None or an int >= 0")
        if self._every_n_epochs < 0:
            raise flag_error("ModelCheckpoint(every_n_epochs)", self._every_n_epochs, "None or an int >= 0")
        if self.save_last not in (None, True, False, "link"):
            raise flag_error("ModelCheckpoint(save_last)", self.save_last, "None, True, False or 'link'")
        triggers = [self._every_n_train_steps >= 1, self._every_n_epochs >= 1, self._train_time_interval is not None]
        if sum(triggers) > 1:
            raise MisconfigurationError(
                f"`ModelCheckpoint` got every_n_train_steps={self._every_n_train_steps}, every_n_epochs="
                f"{self._every_n_epochs} and train_time_interval={self._train_time_interval}; accepted: at most one.")
        if self.monitor is None and self.save_top_k not in (-1, 0, 1):
            raise flag_error("ModelCheckpoint(save_top_k)", self.save_top_k,
                             "-1, 0 or 1 when monitor=None (no quantity to rank the top k by)")

    def _batch_trigger(self, trainer) -> bool:
        """every_n_train_steps divides global_step, or train_time_interval elapsed (it then restarts)."""
        on_step = self._every_n_train_steps >= 1 and trainer.global_step % self._every_n_train_steps == 0
        if self._train_time_interval is None:
            return on_step
        now, last = time.monotonic(), self._last_time_checked
        on_time = _broadcast(trainer, last is not None and now - last >= self._train_time_interval.total_seconds())
        if on_time:
            self._last_time_checked = now
        return on_step or on_time

    def _validation_will_follow(self, trainer) -> bool:
        """The last batch of an epoch whose validation saves instead (a monitored metric comes from it)."""
        if self._should_save_on_train_epoch_end(trainer) or not getattr(trainer, "is_last_batch", False):
            return False
        if not getattr(trainer, "enable_validation", True) or not _total(getattr(trainer, "num_val_batches", 0)):
            return False
        every = getattr(trainer, "check_val_every_n_epoch", 1)
        return every is None or (trainer.current_epoch + 1) % every == 0

    def _should_skip_saving_checkpoint(self, trainer) -> bool:
        return (bool(trainer.fast_dev_run) or _fn(trainer) != "fit" or trainer.sanity_checking
                or self._last_global_step_saved == trainer.global_step)

    def _should_save_on_train_epoch_end(self, trainer) -> bool:
        if self._save_on_train_epoch_end is not None:
            return self._save_on_train_epoch_end
        if getattr(trainer, "check_val_every_n_epoch", 1) != 1:
            return False
        if _total(getattr(trainer, "num_val_batches", 0)) == 0:
            return True
        return getattr(trainer, "val_check_interval", 1.0) == 1.0

    def _monitor_candidates(self, trainer) -> dict[str, Any]:
        candidates = {key: value.detach().clone() if isinstance(value, torch.Tensor) else value
                      for key, value in trainer.callback_metrics.items()}
        epoch, step = candidates.get("epoch"), candidates.get("step")
        candidates["epoch"] = epoch.int() if isinstance(epoch, torch.Tensor) else torch.tensor(trainer.current_epoch)
        candidates["step"] = step.int() if isinstance(step, torch.Tensor) else torch.tensor(trainer.global_step)
        return candidates

    def _resolve_dirpath(self, trainer) -> str:
        return self.dirpath if self.dirpath is not None else default_dirpath(trainer)

    def _last_checkpoints(self, trainer) -> set[str]:
        """The ``last*.ckpt`` files in this callback's folder (for ``ckpt_path="last"``)."""
        return last_files(self._resolve_dirpath(trainer), self.CHECKPOINT_NAME_LAST, self.FILE_EXTENSION)


def _local_or_url(dirpath) -> str | None:
    """A local dirpath made absolute (`~` expanded); a URL (`scheme://...`) kept as given."""
    if dirpath is None:
        return None
    path = os.fspath(dirpath)
    return path if "://" in path else os.path.realpath(os.path.expanduser(path))


def _info(trainer, message: str) -> None:
    if trainer.is_global_zero:
        CONSOLE.print(message)


def _fn(trainer) -> str:
    fn = trainer.state.fn
    return getattr(fn, "value", fn)


def _where(trainer) -> tuple[int, int]:
    """Where a last-file was written: a later epoch at the same step (the epoch ended) is another point."""
    return trainer.global_step, trainer.current_epoch


def _interrupted(trainer, exception: BaseException) -> bool:
    """Ctrl-C or SIGTERM, not a failure (`trainer.interrupted` reads True after both, as Lightning's)."""
    state = getattr(trainer, "state", None)
    return isinstance(exception, KeyboardInterrupt) or getattr(state, "current", None) == "interrupted"


def _total(value: Any) -> float:
    return sum(value) if isinstance(value, (list, tuple)) else (value or 0)


def _agree(trainer, decision: bool, all: bool = True) -> bool:
    reduce = getattr(getattr(trainer, "strategy", None), "reduce_boolean_decision", None)
    return bool(reduce(bool(decision), all=all)) if reduce is not None else bool(decision)


def _broadcast(trainer, value: Any) -> Any:
    broadcast = getattr(getattr(trainer, "strategy", None), "broadcast", None)
    return broadcast(value) if broadcast is not None else value


def _barrier(trainer) -> None:
    barrier = getattr(getattr(trainer, "strategy", None), "barrier", None)
    if barrier is not None:
        barrier()
