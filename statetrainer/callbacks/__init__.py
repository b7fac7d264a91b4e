"""Callbacks: the base class and the built-in ones (loaded on first use)."""
from statetrainer.callbacks.callback import Callback

__all__ = sorted(["Callback", "ModelCheckpoint", "EarlyStopping", "ProgressBar", "TQDMProgressBar",
                  "RichProgressBar", "RichProgressBarTheme", "Timer", "LearningRateMonitor", "ModelSummary",
                  "GradientAccumulationScheduler", "SignalTracer"])

_WHERE = {"ModelCheckpoint": "model_checkpoint", "EarlyStopping": "early_stopping",
          "ProgressBar": "progress.progress_bar", "TQDMProgressBar": "progress.tqdm_progress",
          "RichProgressBar": "progress.rich_progress", "RichProgressBarTheme": "progress.rich_theme",
          "Timer": "timer", "LearningRateMonitor": "lr_monitor", "ModelSummary": "model_summary",
          "GradientAccumulationScheduler": "gradient_accumulation_scheduler", "SignalTracer": "tracer"}


def __getattr__(name: str):
    if name in _WHERE:
        import importlib
        return getattr(importlib.import_module(f"statetrainer.callbacks.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'statetrainer.callbacks' has no attribute {name!r}")
