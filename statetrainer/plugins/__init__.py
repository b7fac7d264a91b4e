"""Trainer plugins: cluster environment, checkpoint IO, precision."""
from statetrainer.plugins.checkpoint_io import CheckpointIO, TorchCheckpointIO
from statetrainer.plugins.environment import ClusterEnvironment, LightningEnvironment
from statetrainer.plugins.precision import Precision

__all__ = ["CheckpointIO", "ClusterEnvironment", "LightningEnvironment", "Precision", "TorchCheckpointIO"]
