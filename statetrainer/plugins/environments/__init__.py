"""Cluster environments: how a process learns its ranks and where the processes meet."""
from statetrainer.plugins.environments.cluster_environment import ClusterEnvironment
from statetrainer.plugins.environments.detect import detect_environment
from statetrainer.plugins.environments.hostlist import expand_hostlist
from statetrainer.plugins.environments.lightning import LightningEnvironment
from statetrainer.plugins.environments.slurm import SLURMEnvironment
from statetrainer.plugins.environments.torchelastic import TorchElasticEnvironment

__all__ = ["ClusterEnvironment", "LightningEnvironment", "SLURMEnvironment", "TorchElasticEnvironment",
           "detect_environment", "expand_hostlist"]
