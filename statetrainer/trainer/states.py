"""Lightning's `lightning.pytorch.trainer.states` path: the state enums and `TrainerState`."""
from statetrainer.states import RunningStage, TrainerFn, TrainerStatus
from statetrainer.trainer.state import TrainerState

__all__ = ["RunningStage", "TrainerFn", "TrainerState", "TrainerStatus"]
