"""Lightning's `lightning.pytorch.core.saving` hparams-file helpers, on statetrainer's plain-YAML reader/writer
(statetrainer/loggers/hparams_file.py). `use_omegaconf` is accepted and ignored: omegaconf is not a dependency,
the files are plain YAML."""
from __future__ import annotations

import os
import warnings
from typing import Any

from statetrainer.loggers.hparams_file import load_yaml, params_dict, save_yaml

__all__ = ["load_hparams_from_yaml", "save_hparams_to_yaml"]


def save_hparams_to_yaml(config_yaml: str | os.PathLike, hparams: Any, use_omegaconf: bool = True) -> None:
    """Write a dict / Namespace / AttributeDict of hyper-parameters to `config_yaml` (its folder must exist)."""
    folder = os.path.dirname(os.fspath(config_yaml))
    if folder and not os.path.isdir(folder):
        raise RuntimeError(f"save_hparams_to_yaml got {os.fspath(config_yaml)!r}, whose folder does not exist; "
                           "accepted: a path in an existing folder.")
    save_yaml(os.fspath(config_yaml), params_dict(hparams))


def load_hparams_from_yaml(config_yaml: str | os.PathLike, use_omegaconf: bool = True) -> dict[str, Any]:
    """The hyper-parameters in `config_yaml`; {} with a RuntimeWarning when the file does not exist."""
    if not os.path.isfile(config_yaml):
        warnings.warn(f"load_hparams_from_yaml: {os.fspath(config_yaml)} does not exist; returning no "
                      "hyper-parameters.", RuntimeWarning, stacklevel=2)
        return {}
    return load_yaml(os.fspath(config_yaml))
