"""LRFinder: what `Tuner.lr_find` returns — the range test's lrs and losses, and the suggestion."""
from __future__ import annotations

import math
import warnings
from typing import Any, Optional

import torch

from statetrainer.errors import MisconfigurationError, flag_error

__all__ = ["LRFinder"]


class LRFinder:
    """Results of one learning-rate range test.

    `results` is {"lr": [...], "loss": [...]}: the lr used by each optimizer step and the smoothed
    training loss after it (NaN where training_step returned nothing). `suggestion()` picks the lr
    where the smoothed loss falls fastest; `plot()` draws loss against lr (needs matplotlib).
    """

    def __init__(self, mode: str, lr_min: float, lr_max: float, num_training: int) -> None:
        self.mode = mode
        self.lr_min = lr_min
        self.lr_max = lr_max
        self.num_training = num_training
        self.results: dict[str, Any] = {}
        self._optimal_idx: Optional[int] = None
        self._total_batch_idx = 0

    def __repr__(self) -> str:
        steps = len(self.results.get("lr", []))
        return (f"LRFinder(mode={self.mode!r}, lr_min={self.lr_min}, lr_max={self.lr_max}, "
                f"num_training={self.num_training}, steps_run={steps})")

    def suggestion(self, skip_begin: int = 10, skip_end: int = 1) -> Optional[float]:
        """The lr at the steepest descent of the smoothed loss (the most negative d loss / d lr), ignoring
        the first `skip_begin` and last `skip_end` points and non-finite losses; None when fewer than
        two points remain."""
        for name, value in (("skip_begin", skip_begin), ("skip_end", skip_end)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise flag_error(name, value, "an int >= 0")
        lrs, losses = self.results.get("lr", []), self.results.get("loss", [])
        window = range(skip_begin, len(losses) - skip_end)
        kept = [i for i in window if math.isfinite(losses[i])]
        if len(kept) < 2:
            warnings.warn(f"LRFinder.suggestion found {len(kept)} finite loss point(s) after skipping {skip_begin} "
                          f"at the start and {skip_end} at the end; it needs 2: run more steps (num_training) or "
                          "use more data.", UserWarning, stacklevel=2)
            self._optimal_idx = None
            return None
        # float32 tensors and torch.gradient, as Lightning computes it, so both pick the same point
        loss_t = torch.tensor([losses[i] for i in kept])
        lr_t = torch.tensor([lrs[i] for i in kept])
        slopes = torch.gradient(loss_t, spacing=[lr_t])[0]
        self._optimal_idx = kept[int(torch.argmin(slopes))]
        return lrs[self._optimal_idx]

    def plot(self, suggest: bool = False, show: bool = False, ax: Any = None) -> Any:
        """Loss against lr (log x-axis in exponential mode); a red dot at the suggestion when `suggest`.
        Returns the matplotlib figure."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise MisconfigurationError("LRFinder.plot needs matplotlib, which is not installed; accepted: "
                                        "`pip install matplotlib`, or plot `finder.results['lr']` against "
                                        "`finder.results['loss']` yourself.") from exc
        lrs, losses = self.results["lr"], self.results["loss"]
        if ax is None:
            fig, ax = plt.subplots()
        else:
            fig = ax.figure
        ax.plot(lrs, losses)
        if self.mode == "exponential":
            ax.set_xscale("log")
        ax.set_xlabel("Learning rate")
        ax.set_ylabel("Loss")
        if suggest and self.suggestion() is not None:
            ax.plot(lrs[self._optimal_idx], losses[self._optimal_idx], markersize=10, marker="o", color="red")
        if show:
            plt.show()
        return fig
