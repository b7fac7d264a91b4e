"""FolderLogger: the base of the loggers that write into ``save_dir/name/version_N``."""
from __future__ import annotations

import os

from statetrainer.errors import flag_error
from statetrainer.loggers.logger import Logger
from statetrainer.loggers.versions import next_version, version_folder

__all__ = ["FolderLogger"]


class FolderLogger(Logger):
    """name / version (next free one when not given) / save_dir / root_dir / log_dir."""

    def _init_folder(self, save_dir: str | os.PathLike, name: str | None, version: int | str | None) -> None:
        if version is not None and not isinstance(version, (int, str)):
            raise flag_error("version", version, "None, an int or a str")
        self._save_dir = os.fspath(save_dir)
        self._name = name or ""
        self._version = version

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> int | str:
        if self._version is None:
            self._version = next_version(self.root_dir)
        return self._version

    @property
    def save_dir(self) -> str:
        return self._save_dir

    @property
    def root_dir(self) -> str:
        # through the properties: a subclass that overrides name/save_dir/version moves the folders too
        return os.path.join(self.save_dir, self.name or "")

    @property
    def log_dir(self) -> str:
        return os.path.join(self.root_dir, version_folder(self.version))
