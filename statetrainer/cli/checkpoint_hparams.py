"""``--ckpt_path``: the model's config is taken from the hyper-parameters saved in the checkpoint.

As LightningCLI does, a checkpoint named on the command line decides how the model is built:
its ``hyper_parameters`` are merged over the parsed ``model`` options before anything is built.
"""
from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["checkpoint_model_config"]


def _saved_hparams(path: str) -> dict:
    from statetrainer.checkpoint import io
    checkpoint = io.load(path, map_location="cpu")
    hparams = dict(checkpoint.get("hyper_parameters") or {})
    hparams.pop("_instantiator", None)
    return hparams


def checkpoint_model_config(parser: Any, config: Any, subcommand: str, subclass_mode: bool) -> Any:
    """`config` with the checkpoint's model hyper-parameters merged in (unchanged without a checkpoint file)."""
    ckpt_path = config[subcommand].get("ckpt_path")
    if not ckpt_path or not os.path.isfile(ckpt_path):
        return config
    hparams = _saved_hparams(ckpt_path)
    if not hparams:
        return config
    if "_class_path" in hparams:
        hparams = {"class_path": hparams.pop("_class_path"), "init_args": hparams}
    elif subclass_mode:
        hparams = {"init_args": hparams}
    try:
        return parser.parse_object({subcommand: {"model": hparams}}, config)
    except SystemExit:
        sys.stderr.write(f"the hyper-parameters saved in {ckpt_path} do not fit the model's options\n")
        raise
