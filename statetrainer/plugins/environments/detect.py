"""Choosing the cluster environment when the user passes none (Lightning's order)."""
from __future__ import annotations

from statetrainer.plugins.environments.cluster_environment import ClusterEnvironment
from statetrainer.plugins.environments.lightning import LightningEnvironment
from statetrainer.plugins.environments.slurm import SLURMEnvironment
from statetrainer.plugins.environments.torchelastic import TorchElasticEnvironment

__all__ = ["detect_environment"]


def detect_environment(given: ClusterEnvironment | None = None) -> ClusterEnvironment:
    """The user's plugin if given; else torchrun's (it may run inside SLURM), SLURM's, else the default."""
    if given is not None:
        return given
    for kind in (TorchElasticEnvironment, SLURMEnvironment):
        if kind.detect():
            return kind()
    return LightningEnvironment()
