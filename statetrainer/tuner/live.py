"""The call a finder callback runs inside: what data it was given, and loading its loaders again.

LearningRateFinder and BatchSizeFinder search from a hook of a running fit/validate/test/predict
(Lightning's callbacks run their search on the running trainer). The trials run on trial trainers
as `Tuner`'s do; this module is the one place that reads the running call's data sources and, after
the batch size changed, asks that call's feed to load its loaders again.
"""
from __future__ import annotations

from typing import Any

from statetrainer.states import TrainerStatus

__all__ = ["is_running", "given_loaders", "reload_loaders"]


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
