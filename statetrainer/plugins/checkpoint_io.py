"""CheckpointIO: how checkpoint files are written, read and removed (a Trainer plugin)."""
from __future__ import annotations

import os
from typing import Any

__all__ = ["CheckpointIO", "TorchCheckpointIO"]


class CheckpointIO:
    """Subclass to store checkpoints elsewhere; the trainer and ModelCheckpoint call only these three."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        raise NotImplementedError

    def load_checkpoint(self, path: str | os.PathLike, map_location: Any = None, weights_only: bool = True) -> dict:
        raise NotImplementedError

    def remove_checkpoint(self, path: str | os.PathLike) -> None:
        raise NotImplementedError

    def teardown(self) -> None:
        """Release what the plugin holds."""


class TorchCheckpointIO(CheckpointIO):
    """The default: atomic torch.save (temporary file, fsync, rename) and weights-only torch.load."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        from statetrainer.checkpoint import io
        io.save(checkpoint, path)

    def load_checkpoint(self, path, map_location=None, weights_only=True) -> dict:
        from statetrainer.checkpoint import io
        return io.load(path, map_location=map_location, weights_only=weights_only)

    def remove_checkpoint(self, path) -> None:
        if os.path.exists(path):
            os.remove(path)
