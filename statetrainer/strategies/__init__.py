"""Strategies: how the model and the data are spread over devices and processes."""
from statetrainer.strategies.ddp import DDPStrategy
from statetrainer.strategies.resolve import resolve_strategy
from statetrainer.strategies.strategy import SingleDeviceStrategy, Strategy

__all__ = ["DDPStrategy", "SingleDeviceStrategy", "Strategy", "resolve_strategy"]
