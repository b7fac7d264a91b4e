"""The options one `self.log` call fixes for a metric, and the parsing of `reduce_fx`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from statetrainer.errors import MisconfigurationError

__all__ = ["LogOptions", "parse_reduce_fx"]

_REDUCE_NAMES = {"mean": "mean", "avg": "mean", "sum": "sum", "max": "max", "min": "min"}
_REDUCE_CALLABLES: tuple[tuple[Callable, str], ...] = (
    (torch.mean, "mean"), (torch.sum, "sum"), (sum, "sum"),
    (torch.max, "max"), (max, "max"), (torch.min, "min"), (min, "min"),
)


def parse_reduce_fx(name: str, reduce_fx: Any) -> str:
    """Map Lightning's accepted `reduce_fx` spellings to one of mean / sum / max / min."""
    if isinstance(reduce_fx, str) and reduce_fx.lower() in _REDUCE_NAMES:
        return _REDUCE_NAMES[reduce_fx.lower()]
    for fn, reduce in _REDUCE_CALLABLES:
        if reduce_fx is fn:
            return reduce
    raise MisconfigurationError(
        f"`self.log({name!r}, reduce_fx=...)` got {reduce_fx!r}; accepted: 'mean' (or 'avg'), 'sum', 'max', 'min' "
        "or torch.mean / torch.sum / torch.max / torch.min (log an object with update/compute/reset for any "
        "other reduction).")


@dataclass(frozen=True)
class LogOptions:
    """Everything that identifies how a metric is accumulated and where it is shown.

    Two `self.log` calls for the same name in the same hook must carry equal options.
    `fx` and `dataloader_idx` are the hook and dataloader the value belongs to.
    """

    fx: str
    name: str
    prog_bar: bool = False
    logger: bool = True
    on_step: bool = False
    on_epoch: bool = True
    reduce: str = "mean"
    enable_graph: bool = False
    add_dataloader_idx: bool = True
    dataloader_idx: int | None = None
    sync_dist: bool = False
    sync_dist_group: Any = None
    rank_zero_only: bool = False

    @property
    def forked(self) -> bool:
        """Logged both per step and per epoch: shown as `name_step` and `name_epoch`."""
        return self.on_step and self.on_epoch

    def names(self, on_step: bool) -> tuple[str, str]:
        """(plain name, name with the `_step`/`_epoch` fork), both with the dataloader suffix."""
        forked = f"{self.name}_{'step' if on_step else 'epoch'}" if self.forked else self.name
        suffix = ""
        if self.add_dataloader_idx and self.dataloader_idx is not None:
            suffix = f"/dataloader_idx_{self.dataloader_idx}"
        return self.name + suffix, forked + suffix

    def output_names(self) -> set[str]:
        """Every key this metric can appear under in the three dictionaries."""
        return {*self.names(True), *self.names(False)}
