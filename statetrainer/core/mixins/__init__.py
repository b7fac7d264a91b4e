"""Lightning's `lightning.pytorch.core.mixins` path: HyperparametersMixin is statetrainer's HyperparametersBase."""
from statetrainer.module.hyperparameters import HyperparametersBase

HyperparametersMixin = HyperparametersBase

__all__ = ["HyperparametersBase", "HyperparametersMixin"]
