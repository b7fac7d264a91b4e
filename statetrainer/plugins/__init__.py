"""Trainer plugins: cluster environment, checkpoint IO, precision."""
from statetrainer.plugins.checkpoint_io import CheckpointIO, TorchCheckpointIO
from statetrainer.plugins.environments import (ClusterEnvironment, LightningEnvironment, SLURMEnvironment,
                                               TorchElasticEnvironment)
from statetrainer.plugins.precision import Precision

__all__ = ["CheckpointIO", "ClusterEnvironment", "LightningEnvironment", "Precision", "SLURMEnvironment",
           "TorchCheckpointIO", "TorchElasticEnvironment"]
