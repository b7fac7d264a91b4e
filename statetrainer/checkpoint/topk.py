"""The top-k book of ModelCheckpoint: which files hold the k best scores, the best, and the k-th.

Scores are 0-d tensors (as logged); a NaN score ranks worst. Ties keep the file that came first.
"""
from __future__ import annotations

from typing import Any

import torch

from statetrainer.errors import flag_error

__all__ = ["TopK"]


class TopK:
    """`mode` "min" keeps the k lowest scores, "max" the k highest; k = -1 keeps every score."""

    def __init__(self, mode: str, k: int) -> None:
        if mode not in ("min", "max"):
            raise flag_error("mode", mode, "'min' or 'max'")
        self.mode, self.k = mode, k
        self.scores: dict[str, torch.Tensor] = {}
        self.kth_path = ""
        self.kth_value = torch.tensor(torch.inf if mode == "min" else -torch.inf)
        self.best_path = ""
        self.best_score: torch.Tensor | None = None

    def accepts(self, current: torch.Tensor) -> bool:
        """Would `current` enter the top k?"""
        if self.k == -1 or len(self.scores) < self.k:
            return True
        better = torch.lt if self.mode == "min" else torch.gt
        return bool(better(current, self.scores[self.kth_path]))

    def capacity(self) -> int:
        """How many files the book holds after the next addition."""
        return len(self.scores) + 1 if self.k == -1 else self.k

    def pop_kth_if_full(self, k: int) -> str | None:
        """Drop the k-th best when the book is full; returns its path (the file to delete)."""
        if k > 0 and len(self.scores) == k:
            path = self.kth_path
            self.scores.pop(path)
            return path
        return None

    def add(self, path: str, current: torch.Tensor, k: int) -> torch.Tensor:
        """Record `current` for `path`; returns the score as stored (NaN becomes the worst value)."""
        if isinstance(current, torch.Tensor) and torch.isnan(current):
            current = torch.tensor(torch.inf if self.mode == "min" else -torch.inf, device=current.device)
        self.scores[path] = current
        if len(self.scores) == k:
            worst = max if self.mode == "min" else min
            self.kth_path = worst(self.scores, key=self.scores.get)
            self.kth_value = self.scores[self.kth_path]
        best = min if self.mode == "min" else max
        self.best_path = best(self.scores, key=self.scores.get)
        self.best_score = self.scores[self.best_path]
        return current

    def restore(self, state: dict[str, Any]) -> None:
        """Take the scores back from a ModelCheckpoint state_dict."""
        self.best_score = state["best_model_score"]
        self.kth_path = state.get("kth_best_model_path", self.kth_path)
        self.kth_value = state.get("kth_value", self.kth_value)
        self.scores = dict(state.get("best_k_models", self.scores))
