"""Restore: `ckpt_path` read once and put back in Lightning's two steps — the module weights and callback
states after configure_model, the training state (optimizers, schedulers, the loops) after on_fit_start —
then one line saying where the run continues."""
from __future__ import annotations

from typing import Callable, Optional

from statetrainer.loop.announce import announce

__all__ = ["Restore"]


class Restore:
    """`read()` resolves and loads the checkpoint (None when there is none); called at most once."""

    def __init__(self, read: Callable[[], Optional[tuple[str, dict]]]):
        self._read = read
        self.loaded: Optional[tuple[str, dict]] = None

    def modules(self, s) -> None:
        from statetrainer.checkpoint import content
        self.loaded = self._read()
        if self.loaded is None:
            return
        path, checkpoint = self.loaded
        if s.fn == "fit":
            content.check_resumable(checkpoint, path)
        content.restore_modules_and_callbacks(s, checkpoint, path)

    def training(self, s) -> None:
        if self.loaded is None:
            return
        from statetrainer.checkpoint import content
        path, checkpoint = self.loaded
        content.restore_training_state(s, checkpoint, path)
        p = s.position
        _check_epoch_limit(p.epoch, s.stop.max_epochs, path)
        note = "" if p.replay_exact else (" (the checkpoint was taken inside an interrupted batch: that batch runs "
                                          "again from its start, so its random draws differ from the first attempt)")
        announce(f"Restored from {path}: {p.describe()}{note}.", rank_zero=s.strategy.is_global_zero)


def _check_epoch_limit(epoch: int, max_epochs: int, path: str) -> None:
    """A checkpoint from an epoch past max_epochs cannot be continued within it: refused, as Lightning
    does (one taken in the last epoch, or at its end, resumes and ends at once)."""
    if max_epochs not in (-1, None) and epoch > max_epochs:
        from statetrainer.errors import MisconfigurationError
        raise MisconfigurationError(f"`max_epochs` got {max_epochs} but the checkpoint {path!r} was taken in epoch "
                                    f"{epoch}; accepted: max_epochs > {epoch} (or -1) to resume it.")
