"""SaveConfigCallback: the run's full config written as ``config.yaml`` beside its logs."""
from __future__ import annotations

import os
from typing import Any

from statetrainer.callbacks.callback import Callback

__all__ = ["SaveConfigCallback"]


class SaveConfigCallback(Callback):
    """Writes the parsed config to ``trainer.log_dir/config_filename`` at the first ``setup``.

    An existing file is an error unless ``overwrite=True`` (two runs must not share a folder
    silently). ``multifile=True`` keeps the structure of several config files. Subclass and
    override :meth:`save_config` to store the config somewhere else too (global rank 0 only);
    with ``save_to_log_dir=False`` that is the only place it goes.
    """

    def __init__(self, parser: Any, config: Any, config_filename: str = "config.yaml", overwrite: bool = False,
                 multifile: bool = False, save_to_log_dir: bool = True) -> None:
        self.parser = parser
        self.config = config
        self.config_filename = config_filename
        self.overwrite = overwrite
        self.multifile = multifile
        self.save_to_log_dir = save_to_log_dir
        self.already_saved = False
        if not save_to_log_dir and type(self).save_config is SaveConfigCallback.save_config:
            raise ValueError("SaveConfigCallback got save_to_log_dir=False without an override of save_config; "
                             "accepted: save_to_log_dir=True, or a subclass whose save_config stores the config.")

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if self.already_saved:
            return
        if self.save_to_log_dir:
            self._write(trainer)
        if trainer.is_global_zero:
            self.save_config(trainer, pl_module, stage)
            self.already_saved = True
        self.already_saved = trainer.strategy.broadcast(self.already_saved)

    def _write(self, trainer: Any) -> None:
        log_dir = trainer.log_dir
        path = os.path.join(log_dir, self.config_filename)
        exists = os.path.isfile(path) if trainer.is_global_zero else False
        if not self.overwrite and trainer.strategy.broadcast(exists):
            raise RuntimeError(
                f"SaveConfigCallback will not overwrite {path}, left by an earlier run; accepted: a new "
                "default_root_dir or logger version, deleting the file, StateCLI("
                "save_config_kwargs={'overwrite': True}), or StateCLI(save_config_callback=None) to save nothing.")
        if trainer.is_global_zero:
            os.makedirs(log_dir, exist_ok=True)
            self.parser.save(self.config, path, overwrite=self.overwrite, multifile=self.multifile,
                             **_keep_unset())

    def save_config(self, trainer: Any, pl_module: Any, stage: str) -> None:
        """Override to store the config elsewhere as well (called once, on global rank 0)."""


def _keep_unset() -> dict:
    """The keyword that keeps None values in the file (jsonargparse renamed it in 4.49)."""
    from statetrainer.cli.dependency import jsonargparse
    version = tuple(int(part) for part in jsonargparse().__version__.split(".")[:2] if part.isdigit())
    return {"skip_unset": False} if version >= (4, 49) else {"skip_none": False}
