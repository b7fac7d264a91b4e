"""The action of every state the driver runs: state name -> function(session) -> trigger."""
from statetrainer.loop import evaluate, fit, setup

__all__ = ["ACTIONS"]

ACTIONS = {"connect": setup.connect, "prepare_data": setup.prepare_data, "setup": setup.setup,
           "teardown": setup.teardown, **fit.ACTIONS, **evaluate.ACTIONS}
