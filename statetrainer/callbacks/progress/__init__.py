"""Progress bars: the base class, the tqdm bar (the default) and the rich bar (optional extra)."""
from statetrainer.callbacks.progress.progress_bar import ProgressBar

__all__ = ["ProgressBar", "RichProgressBar", "RichProgressBarTheme", "TQDMProgressBar"]

_WHERE = {"TQDMProgressBar": "tqdm_progress", "RichProgressBar": "rich_progress",
          "RichProgressBarTheme": "rich_theme"}


def __getattr__(name: str):
    if name in _WHERE:
        import importlib
        return getattr(importlib.import_module(f"statetrainer.callbacks.progress.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'statetrainer.callbacks.progress' has no attribute {name!r}")
