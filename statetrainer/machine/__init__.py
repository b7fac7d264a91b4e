"""The loops as one declared state machine. No torch import in this package."""
from statetrainer.machine.machine import LoopMachine
from statetrainer.machine.table import STATES, TRANSITIONS

__all__ = ["LoopMachine", "STATES", "TRANSITIONS"]
