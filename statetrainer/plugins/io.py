"""Lightning's `lightning.pytorch.plugins.io` path: the checkpoint IO plugins."""
from statetrainer.plugins.checkpoint_io import CheckpointIO, TorchCheckpointIO

__all__ = ["CheckpointIO", "TorchCheckpointIO"]
