"""statetrainer: Lightning's Trainer surface, built as an explicit state machine with typed signals.

    import statetrainer as st
    trainer = st.Trainer(max_epochs=3)
    trainer.fit(model, train_loader, val_loader)
    print(trainer.state.stop_reason)
"""
from statetrainer import callbacks, errors, signals
from statetrainer.callbacks.callback import Callback
from statetrainer.data.datamodule import DataModule
from statetrainer.module.module import StateModule
from statetrainer.seed import seed_everything
from statetrainer.trainer.trainer import Trainer

from statetrainer.version import __version__

# Lightning's class names, so that `lightning.pytorch` -> `statetrainer` is the whole port (docs/porting.md)
LightningModule = StateModule
LightningDataModule = DataModule

__all__ = sorted(["Callback", "DataModule", "LightningDataModule", "LightningModule", "StateModule", "Trainer",
                  "Tuner", "accelerators", "callbacks", "cli", "core", "errors", "loggers", "plugins", "profilers",
                  "seed_everything", "signals", "strategies", "utilities"])

_LAZY = {"loggers", "profilers", "strategies", "accelerators", "plugins", "cli", "Tuner", "core", "utilities"}


def __getattr__(name: str):
    import importlib
    if name == "Tuner":
        from statetrainer.tuner.tuning import Tuner
        return Tuner
    if name in _LAZY:
        return importlib.import_module(f"statetrainer.{name}")
    raise AttributeError(f"module 'statetrainer' has no attribute {name!r}")
