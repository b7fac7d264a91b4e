"""The action of every state the driver runs: state name -> function(session) -> trigger."""
from statetrainer.loop import evaluate, fit, setup

__all__ = ["ACTIONS"]

ACTIONS = {"setup": setup.setup, "teardown": setup.teardown, **fit.ACTIONS, **evaluate.ACTIONS}
