"""Lightning's `lightning.pytorch.utilities.parsing` names: AttributeDict and is_picklable."""
from __future__ import annotations

import pickle

from statetrainer.module.hparams import AttributeDict

__all__ = ["AttributeDict", "is_picklable"]


def is_picklable(obj: object) -> bool:
    """True when `pickle.dumps(obj)` succeeds."""
    try:
        pickle.dumps(obj)
    except (pickle.PickleError, AttributeError, RuntimeError, TypeError):
        return False
    return True
