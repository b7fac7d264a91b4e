"""OnExceptionCheckpoint: write a checkpoint when a run ends with an exception (Ctrl-C included).

The file is ``<dirpath>/<filename>.ckpt``, overwritten by each failure; it holds the whole training
state at the moment of the failure, so ``fit(ckpt_path=...)`` can continue from it. As in
Lightning, a run that ends normally deletes that file at teardown (it would be stale), so after a
failure resume from it (or copy it) before the next successful run of this trainer.
"""
from __future__ import annotations

import os

from statetrainer.callbacks.checkpoint import Checkpoint

__all__ = ["OnExceptionCheckpoint"]


class OnExceptionCheckpoint(Checkpoint):
    """Save ``<dirpath>/<filename>.ckpt`` when fit/validate/test/predict raises.

    Args:
        dirpath: the folder of the checkpoint (needed up front: a failure can come at any moment).
        filename: the file name without the ``.ckpt`` extension.
    """

    FILE_EXTENSION = ".ckpt"

    def __init__(self, dirpath: str | os.PathLike, filename: str = "on_exception") -> None:
        if not filename:
            raise ValueError(f"OnExceptionCheckpoint(filename) got {filename!r}; accepted: a non-empty file name "
                             "(without the .ckpt extension).")
        self.dirpath = dirpath
        self.filename = filename
        self._failed = False  # set by on_exception, read by the teardown of the same run

    @property
    def ckpt_path(self) -> str:
        return os.path.join(self.dirpath, self.filename + self.FILE_EXTENSION)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._failed = True
        trainer.save_checkpoint(self.ckpt_path)

    def teardown(self, trainer, pl_module, stage: str) -> None:
        failed, self._failed = self._failed, False
        if not failed and trainer.is_global_zero and os.path.isfile(self.ckpt_path):
            os.remove(self.ckpt_path)

    def __repr__(self) -> str:
        return f"OnExceptionCheckpoint(dirpath={str(self.dirpath)!r}, filename={self.filename!r})"
