"""Checking the tuner's arguments and flags: each refusal names the argument, the value and what is accepted."""
from __future__ import annotations

import numbers
from typing import Any

from statetrainer.errors import MisconfigurationError, flag_error

__all__ = ["METHODS", "check_method", "check_loaders", "check_int", "check_choice", "check_lr_settings",
           "check_batch_settings", "check_tuner_flags"]

METHODS = ("fit", "validate", "test", "predict")


def check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise flag_error(name, value, f"an int >= {minimum}")


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_choice(name: str, value: Any, choices: tuple) -> str:
    """The choice, lower-cased as Lightning accepts it."""
    key = value.lower() if isinstance(value, str) else value
    if key not in choices:
        raise flag_error(name, value, ", ".join(repr(c) for c in choices))
    return key


def check_method(value: Any, choices: tuple = METHODS) -> str:
    if value not in choices:
        raise flag_error("method", value, ", ".join(repr(c) for c in choices))
    return value


def check_loaders(method: str, train: Any, val: Any, dataloaders: Any) -> None:
    """fit takes train/val dataloaders; validate/test/predict take `dataloaders`."""
    if method == "fit" and dataloaders is not None:
        raise MisconfigurationError("`dataloaders` was given with method='fit'; accepted: `train_dataloaders` and "
                                    "`val_dataloaders` for fit (`dataloaders` is for validate/test/predict).")
    if method != "fit" and (train is not None or val is not None):
        raise MisconfigurationError(f"`train_dataloaders`/`val_dataloaders` were given with method={method!r}; "
                                    "accepted: `dataloaders` for validate/test/predict.")


def check_lr_settings(min_lr: Any, max_lr: Any, num_training: Any, early_stop_threshold: Any,
                      update_attr: Any, attr_name: Any) -> None:
    if not _number(min_lr) or min_lr <= 0:
        raise flag_error("min_lr", min_lr, "a number > 0")
    if not _number(max_lr) or max_lr <= 0:  # below min_lr is accepted: the range test then walks downwards
        raise flag_error("max_lr", max_lr, "a number > 0")
    check_int("num_training", num_training, 1)
    if early_stop_threshold is not None and (not _number(early_stop_threshold) or early_stop_threshold <= 0):
        raise flag_error("early_stop_threshold", early_stop_threshold, "a number > 0, or None to never stop early")
    if not isinstance(update_attr, bool):
        raise flag_error("update_attr", update_attr, "True or False")
    if not isinstance(attr_name, str):
        raise flag_error("attr_name", attr_name, "a str: the attribute or hparam holding the lr ('' to detect it)")


def check_batch_settings(steps_per_trial: Any, init_val: Any, max_trials: Any, batch_arg_name: Any,
                         margin: Any, max_val: Any) -> None:
    check_int("steps_per_trial", steps_per_trial, 1)
    check_int("init_val", init_val, 1)
    check_int("max_trials", max_trials, 0)
    check_int("max_val", max_val, 1)
    if not isinstance(batch_arg_name, str) or not batch_arg_name:
        raise flag_error("batch_arg_name", batch_arg_name, "a non-empty str naming the batch-size attribute")
    if not _number(margin) or not 0.0 <= margin < 1.0:
        raise flag_error("margin", margin, "a number in [0.0, 1.0)")


def check_tuner_flags(auto_lr_find: Any, auto_scale_batch_size: Any) -> None:
    """The Trainer flags trainer.tune() reads (callable from the flag parser too)."""
    if not isinstance(auto_lr_find, (bool, str)) or auto_lr_find == "":
        raise flag_error("auto_lr_find", auto_lr_find,
                         "True, False, or the name of the attribute/hparam holding the lr")
    if auto_scale_batch_size not in (False, True, "power", "binsearch") or \
            (not isinstance(auto_scale_batch_size, (bool, str))):
        raise flag_error("auto_scale_batch_size", auto_scale_batch_size, "False, True (= 'power'), 'power' or "
                         "'binsearch'")
