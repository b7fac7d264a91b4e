"""Lightning's `lightning.pytorch.utilities.exceptions` path: MisconfigurationException is statetrainer's
MisconfigurationError (a ValueError, as Lightning's)."""
from statetrainer.errors import MisconfigurationError

MisconfigurationException = MisconfigurationError

__all__ = ["MisconfigurationError", "MisconfigurationException"]
