"""HandBack: the plain-data record a spawned rank 0 sends to the launching process when its run ends.

Spawned workers train copies of the model; the launching process holds the user's objects and
gets nothing unless a worker sends it. The record carries the trained weights (as a file path:
weights can be large and must not travel through shared memory that dies with the worker),
the callback metrics, the checkpoint callback's best path and the run's return value.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

import torch

from statetrainer.strategies.collectives import map_tensors

__all__ = ["HandBack"]


def _to_cpu(data: Any) -> Any:
    return map_tensors(data, lambda tensor: tensor.detach().cpu())


@dataclass(frozen=True)
class HandBack:
    weights_path: str | None
    callback_metrics: dict[str, Any]
    best_model_path: str | None = None
    result: Any = None

    @classmethod
    def collect(cls, module: torch.nn.Module | None, callback_metrics: dict[str, Any] | None = None,
                best_model_path: str | None = None, result: Any = None) -> "HandBack":
        """Built in the worker: writes `module`'s weights to a temporary file; everything else by value."""
        weights_path = None
        if module is not None:
            weights_path = os.path.join(tempfile.mkdtemp(prefix="statetrainer-handback-"), "weights.pt")
            torch.save(_to_cpu(module.state_dict()), weights_path)
        return cls(weights_path, _to_cpu(dict(callback_metrics or {})),
                   None if best_model_path is None else str(best_model_path), _to_cpu(result))

    def restore_weights(self, module: torch.nn.Module) -> None:
        """Load the trained weights into the launching process's `module`, then delete the temporary file."""
        if self.weights_path is None:
            return
        try:
            state = torch.load(self.weights_path, map_location="cpu", weights_only=True)
            with torch.no_grad():
                module.load_state_dict(state)
        finally:
            shutil.rmtree(os.path.dirname(self.weights_path), ignore_errors=True)
