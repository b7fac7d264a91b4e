"""Checkpoint: the base class of callbacks that write checkpoints.

A callback of this type runs after all the other callbacks of each hook (so the checkpoint it writes
holds their latest state), as ModelCheckpoint does. Subclass it for a custom checkpointing callback.
"""
from __future__ import annotations

from statetrainer.callbacks.callback import Callback

__all__ = ["Checkpoint"]


class Checkpoint(Callback):
    """Marks a callback as a checkpoint writer (ordered last by the dispatcher)."""
