"""``ckpt_path`` values: a path, ``"best"`` (the first ModelCheckpoint's best_model_path) or ``"last"``.

``"last"`` is the most recently modified ``last*.ckpt`` in the folders of the trainer's
ModelCheckpoint callbacks. A callback without an explicit ``dirpath`` writes under the logger's
version folder, and a new Trainer gets a new version; so when that folder has none, the
``last*.ckpt`` files of the logger's other versions (``<save_dir>/<name>/*/checkpoints``) are
searched too: restarting a killed script with ``ckpt_path="last"`` finds its last checkpoint.
"""
from __future__ import annotations

import glob
import os
import warnings
from typing import Any

from statetrainer.errors import MisconfigurationError

__all__ = ["resolve_ckpt_path", "last_checkpoint_candidates", "default_dirpath", "last_files"]


def resolve_ckpt_path(trainer, ckpt_path: Any, fn: str) -> str | None:
    """The file `ckpt_path` names for `fn` ("fit", "validate", ...), or None when there is none to load."""
    if ckpt_path is None:
        return None
    if ckpt_path == "best":
        return _best(trainer, fn)
    if ckpt_path == "last":
        candidates = last_checkpoint_candidates(trainer)
        if not candidates:
            warnings.warn(f'.{fn}(ckpt_path="last") is set, but there is no last checkpoint available; no checkpoint '
                          "will be loaded. HINT: set `ModelCheckpoint(..., save_last=True)`.", UserWarning)
            return None
        return max(candidates, key=lambda path: (os.stat(path).st_mtime_ns, path))
    return os.fspath(ckpt_path)


def last_checkpoint_candidates(trainer) -> set[str]:
    """Every ``last*.ckpt`` the trainer's ModelCheckpoint callbacks could have written."""
    callbacks = list(trainer.checkpoint_callbacks)
    found: set[str] = set()
    for callback in callbacks:
        found |= callback._last_checkpoints(trainer)
    if found:
        return found
    for callback in callbacks:
        if not callback._dirpath_given and trainer.loggers:
            found |= _in_other_versions(trainer.loggers[0], trainer.default_root_dir, callback)
    return found


def default_dirpath(trainer) -> str:
    """ModelCheckpoint's folder without dirpath: <logger save_dir>/<name>/<version>/checkpoints, else
    <default_root_dir>/checkpoints (Lightning's rule)."""
    if trainer.loggers:
        logger = trainer.loggers[0]
        save_dir = logger.save_dir if logger.save_dir is not None else trainer.default_root_dir
        version = logger.version if isinstance(logger.version, str) else f"version_{logger.version}"
        return os.path.join(save_dir, str(logger.name), version, "checkpoints")
    return os.path.join(trainer.default_root_dir, "checkpoints")


def last_files(folder: str, last: str, extension: str) -> set[str]:
    """Files in `folder` named like a last-file: starting with `last`, ending with `extension`."""
    if not os.path.isdir(folder):
        return set()
    return {os.path.normpath(os.path.join(folder, name)) for name in os.listdir(folder)
            if name.startswith(last) and name.endswith(extension)}


def _in_other_versions(logger, root: str, callback) -> set[str]:
    save_dir = logger.save_dir if logger.save_dir is not None else root
    pattern = os.path.join(glob.escape(os.fspath(save_dir)), glob.escape(str(logger.name)), "*", "checkpoints",
                           f"{glob.escape(callback.CHECKPOINT_NAME_LAST)}*{callback.FILE_EXTENSION}")
    return {os.path.normpath(path) for path in glob.glob(pattern) if os.path.isfile(path)}


def _best(trainer, fn: str) -> str:
    callbacks = list(trainer.checkpoint_callbacks)
    if not callbacks:
        raise MisconfigurationError(f'`.{fn}(ckpt_path="best")` is set but no ModelCheckpoint is configured; accepted: '
                                    "a ModelCheckpoint in `callbacks` (or enable_checkpointing=True), or a file path.")
    if len(callbacks) > 1:
        warnings.warn(f'`.{fn}(ckpt_path="best")` with several ModelCheckpoint callbacks uses the first one\'s '
                      "best_model_path.", UserWarning)
    best = callbacks[0].best_model_path
    if not best:
        why = "fast_dev_run saves no checkpoint" if getattr(trainer, "fast_dev_run", False) else (
            "the ModelCheckpoint has not saved a best model yet")
        raise MisconfigurationError(f'`.{fn}(ckpt_path="best")` found no best checkpoint ({why}); accepted: '
                                    f"a checkpoint file path, or fit first.")
    return best
