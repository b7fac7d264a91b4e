"""Lightning's `lightning.pytorch.core.module` path: LightningModule is StateModule (the same class)."""
from statetrainer.module.module import StateModule

LightningModule = StateModule

__all__ = ["LightningModule", "StateModule"]
