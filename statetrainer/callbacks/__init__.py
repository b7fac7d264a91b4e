"""Callbacks: the base class and the built-in ones (loaded on first use)."""
from statetrainer.callbacks.callback import Callback

_WHERE = {"ModelCheckpoint": "model_checkpoint", "EarlyStopping": "early_stopping",
          "EarlyStoppingReason": "early_stopping",
          "ProgressBar": "progress.progress_bar", "TQDMProgressBar": "progress.tqdm_progress",
          "RichProgressBar": "progress.rich_progress", "RichProgressBarTheme": "progress.rich_theme",
          "Timer": "timer", "LearningRateMonitor": "lr_monitor", "ModelSummary": "model_summary",
          "GradientAccumulationScheduler": "gradient_accumulation_scheduler", "SignalTracer": "tracer",
          "BaseFinetuning": "finetuning", "BackboneFinetuning": "backbone_finetuning",
          "LambdaCallback": "lambda_function", "Checkpoint": "checkpoint",
          "OnExceptionCheckpoint": "on_exception_checkpoint", "BasePredictionWriter": "prediction_writer",
          "ModelPruning": "pruning", "StochasticWeightAveraging": "stochastic_weight_avg",
          "ThroughputMonitor": "throughput_monitor", "DeviceStatsMonitor": "device_stats_monitor",
          "LearningRateFinder": "lr_finder", "BatchSizeFinder": "batch_size_finder"}

__all__ = sorted(["Callback", *_WHERE])


def __getattr__(name: str):
    if name in _WHERE:
        import importlib
        return getattr(importlib.import_module(f"statetrainer.callbacks.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'statetrainer.callbacks' has no attribute {name!r}")
