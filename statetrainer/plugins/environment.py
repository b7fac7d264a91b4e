"""Kept for imports written before the environments package: the two classes now live there."""
from statetrainer.plugins.environments.cluster_environment import ClusterEnvironment
from statetrainer.plugins.environments.lightning import LightningEnvironment

__all__ = ["ClusterEnvironment", "LightningEnvironment"]
