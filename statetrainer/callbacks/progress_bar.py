"""The earlier home of statetrainer's progress bar, kept so existing imports keep working.

``ProgressBar`` here is the tqdm bar, ``TQDMProgressBar`` (``statetrainer.callbacks.ProgressBar`` is
the base class of all bars, as in Lightning; calling it directly also gives a TQDMProgressBar).
New code imports from ``statetrainer.callbacks``.
"""
from statetrainer.callbacks.progress.tqdm_progress import TQDMProgressBar, Tqdm

ProgressBar = TQDMProgressBar

__all__ = ["ProgressBar", "TQDMProgressBar", "Tqdm"]
