"""StateCLI: a command line with config files for statetrainer programs (optional extra: jsonargparse).

    from statetrainer.cli import StateCLI
    StateCLI(MyModel, MyDataModule)        # python train.py fit --config config.yaml --trainer.max_epochs=2

Everything here needs ``pip install "statetrainer[cli]"``; importing this package does not, the
names below do (an ImportError says how to install it). See docs/cli.md.
"""
from __future__ import annotations

import importlib

__all__ = sorted(["StateCLI", "StateArgumentParser", "SaveConfigCallback", "ReduceLROnPlateau", "instantiate_class",
                  "ArgsType", "OptimizerCallable", "LRSchedulerCallable", "LRSchedulerTypeUnion"])

_WHERE = {"StateCLI": "cli", "ArgsType": "cli", "StateArgumentParser": "parser", "SaveConfigCallback": "save_config",
          "ReduceLROnPlateau": "reduce_lr_on_plateau", "instantiate_class": "optimizers",
          "OptimizerCallable": "optimizers", "LRSchedulerCallable": "optimizers", "LRSchedulerTypeUnion": "optimizers"}


def __getattr__(name: str):
    if name in _WHERE:
        from statetrainer.cli.dependency import jsonargparse
        jsonargparse()  # the clear ImportError first, before any module that needs it
        return getattr(importlib.import_module(f"statetrainer.cli.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'statetrainer.cli' has no attribute {name!r}")
