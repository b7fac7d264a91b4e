"""The call a finder callback runs inside: what data it was given, and loading its loaders again.

LearningRateFinder and BatchSizeFinder search from a hook of a running fit/validate/test/predict
(Lightning's callbacks run their search on the running trainer). The trials run on trial trainers
as `Tuner`'s do; this module is the one place that reads the running call's data sources and, after
the batch size changed, makes that call load its loaders again. It reads the trainer's session,
which is private to the loop: keep these three functions in step with the loop's shape.
"""
from __future__ import annotations

from typing import Any

from statetrainer.states import TrainerStatus

__all__ = ["is_running", "given_loaders", "reload_loaders"]

_KIND = {"validate": "val", "test": "test", "predict": "predict"}


def is_running(trainer) -> bool:
    """True while `trainer` is inside fit/validate/test/predict (the finder is called from a hook)."""
    return trainer.state.status == TrainerStatus.RUNNING


def given_loaders(trainer) -> dict[str, Any]:
    """The loaders passed to the running call as arguments, by kind (train, val, test, predict)."""
    session = trainer._session
    return dict(session.sources.explicit) if session is not None and is_running(trainer) else {}


def reload_loaders(trainer) -> None:
    """Make the running call build its loaders again from the module's / datamodule's hooks (after a batch-size
    change). Loaders it has not loaded yet need nothing; an evaluation that has started but not fetched a batch
    (its *_start hook) gets the new ones now; in fit, train now and validation at its next run."""
    session = trainer._session
    if session is None or not is_running(trainer):
        return
    if session.fn == "fit":
        _reload_fit(session)
    elif session.eval_run is not None:
        _reload_eval(session, _KIND[str(session.fn)])


def _reload_fit(session) -> None:
    from statetrainer.loop import fit
    session.val_loaders = None  # loaded again before the next validation
    if session.train_loader is not None:
        fit._load_train(session)


def _reload_eval(session, kind: str) -> None:
    from statetrainer.loop.data import count_batches
    run = session.eval_run
    loaders = session.sources.load(kind)
    run.loaders = session.eval_loaders = loaders
    run.limits = [count_batches(dl, session.config.limits[kind], f"limit_{kind}_batches") for dl in loaders]
    run.predictions = [[] for _ in loaders]
    run.skip = sum(run.limits) == 0
