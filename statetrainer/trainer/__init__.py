"""The Trainer package; `from statetrainer.trainer import Trainer` works as Lightning's `lightning.pytorch.trainer`."""


def __getattr__(name: str):
    if name == "Trainer":  # imported on first use: modules inside this package must not import it eagerly
        from statetrainer.trainer.trainer import Trainer
        return Trainer
    raise AttributeError(f"module 'statetrainer.trainer' has no attribute {name!r}")
