"""Lightning's `lightning.pytorch.core.optimizer` path: LightningOptimizer is statetrainer's StepOptimizer, the
wrapper `self.optimizers()` returns."""
from statetrainer.module.optimizer import StepOptimizer

LightningOptimizer = StepOptimizer

__all__ = ["LightningOptimizer", "StepOptimizer"]
