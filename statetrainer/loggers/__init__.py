"""Loggers: where logged metrics and hyperparameters go (``Trainer(logger=...)``)."""
from statetrainer.loggers.csv_logs import CSVLogger
from statetrainer.loggers.logger import DummyLogger, Logger
from statetrainer.loggers.mlflow import MLFlowLogger
from statetrainer.loggers.tensorboard import TensorBoardLogger

__all__ = ["CSVLogger", "DummyLogger", "Logger", "MLFlowLogger", "TensorBoardLogger"]
