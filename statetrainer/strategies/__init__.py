"""Strategies: how the model and the data are spread over devices and processes."""
from statetrainer.strategies.strategy import SingleDeviceStrategy, Strategy

__all__ = ["Strategy", "SingleDeviceStrategy"]
