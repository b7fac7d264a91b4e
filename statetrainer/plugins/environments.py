"""Lightning's `lightning.pytorch.plugins.environments` path: the cluster environment plugins."""
from statetrainer.plugins.environment import ClusterEnvironment, LightningEnvironment

__all__ = ["ClusterEnvironment", "LightningEnvironment"]
