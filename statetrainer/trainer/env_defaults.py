"""`PL_<CLASS>_<FLAG>` environment variables as Trainer flag defaults (Lightning's rule).

For `Trainer` the variables are `PL_TRAINER_MAX_STEPS=7`, `PL_TRAINER_LOGGER=False`, ...; a
subclass reads its own upper-cased class name (`PL_MYTRAINER_...`), as in Lightning. A value is
parsed as a Python literal when it is one (`7`, `False`, `[0, 1]`, `0.5`), else kept as the string.
Empty variables are ignored. A flag given to the constructor wins over its variable. Only the
Trainer's own flags are read (Lightning would also read a subclass's extra `__init__` arguments and
then hand them to Trainer's `__init__`, which refuses them).
"""
from __future__ import annotations

import ast
import os
from typing import Any

__all__ = ["env_flag_defaults", "with_env_defaults"]


def _parse(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def env_flag_defaults(cls: type) -> dict[str, Any]:
    """{flag: value} for every `PL_<CLASS>_<FLAG>` variable that is set and not empty."""
    from statetrainer.trainer.flags import DEFAULTS
    prefix = f"PL_{cls.__name__.upper()}_"
    found = {}
    for name in DEFAULTS:
        text = os.environ.get(prefix + name.upper())
        if text:
            found[name] = _parse(text)
    return found


def with_env_defaults(cls: type, flags: dict[str, Any]) -> dict[str, Any]:
    """`flags` over the environment's defaults for `cls`."""
    return {**env_flag_defaults(cls), **flags}
