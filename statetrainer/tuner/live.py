"""The call a finder callback runs inside: what data it was given, and loading its loaders again.

LearningRateFinder and BatchSizeFinder search from a hook of a running fit/validate/test/predict
(Lightning's callbacks run their search on the running trainer). The trials run on trial trainers
as `Tuner`'s do; this module is the one place that reads the running call's data sources and, after
the batch size changed, asks that call's feed to load its loaders again.
"""
from __future__ import annotations

from typing import Any

from statetrainer.states import TrainerStatus

__all__ = ["is_running", "given_loaders", "reload_loaders", "show_loaders"]


def is_running(trainer) -> bool:
    """True while `trainer` is inside fit/validate/test/predict (the finder is called from a hook)."""
    return trainer.state.status == TrainerStatus.RUNNING


def given_loaders(trainer) -> dict[str, Any]:
    """The loaders passed to the running call as arguments, by kind (train, val, test, predict)."""
    session = trainer._session
    return dict(session.feed.sources.explicit) if session is not None and is_running(trainer) else {}


def reload_loaders(trainer) -> None:
    """Make the running call build its loaders again from the module's / datamodule's hooks (after a
    batch-size change); the feed decides what reloads now and what at its next use."""
    session = trainer._session
    if session is not None and is_running(trainer):
        session.feed.reload()


_KIND = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("predict",)}


def show_loaders(trainer, model, datamodule, method: str) -> None:
    """After the batch-size search (not run from a hook): the trainer shows the loaders its hooks give
    now, with the size found (Lightning's finder loads them again on the user's trainer at its end)."""
    from statetrainer.loop.sources import DataSources
    from statetrainer.module.hooks import HookStubs
    from statetrainer.utilities.combined_loader import CombinedLoader
    sources, shown = DataSources(model, datamodule, None), trainer._dataloaders
    shown.clear()
    for kind in _KIND[method]:
        validates = kind != "val" or getattr(type(model), "validation_step", None) is not HookStubs.validation_step
        if validates and sources.is_defined(kind) and trainer._config.limits[kind] != 0:
            value = sources.load(kind)
            shown[kind] = value.iterables if isinstance(value, CombinedLoader) else value
