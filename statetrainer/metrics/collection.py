"""The metrics of one loop (training, one evaluation stage): slots keyed by hook and name."""
from __future__ import annotations

from typing import Any, NamedTuple

import torch

from statetrainer.errors import MisconfigurationError
from statetrainer.metrics.batch_size import extract_batch_size
from statetrainer.metrics.options import LogOptions
from statetrainer.metrics.slot import MetricSlot, SyncFn

__all__ = ["MetricCollection", "Views"]


class Views(NamedTuple):
    """What the collection shows now: callback (tensors), log (tensors), progress bar (floats)."""

    callback: dict[str, torch.Tensor]
    log: dict[str, torch.Tensor]
    pbar: dict[str, float]


class MetricCollection:
    """Slots of one loop. `training` decides whether step values reach callback_metrics.

    `batch` / `dataloader_idx` describe the batch being run (set by the book); the batch size
    inferred from `batch` is cached until the next batch.
    """

    def __init__(self, training: bool, sync: SyncFn):
        self.training = training
        self.sync = sync
        self.slots: dict[str, MetricSlot] = {}
        self.batch: Any = None
        self.batch_size: int | None = None
        self.dataloader_idx: int | None = None

    def log(self, options: LogOptions, value: Any, batch_size: int | None) -> MetricSlot:
        """Add one value; refuse a second call with other options or a name that clashes. Returns the slot."""
        key = f"{options.fx}.{options.name}"
        if options.dataloader_idx is not None and options.add_dataloader_idx:
            key += f".{options.dataloader_idx}"
        slot = self.slots.get(key)
        if slot is None:
            self._check_clash(options)
            slot = self.slots[key] = MetricSlot(options, isinstance(value, torch.Tensor), self.sync)
        elif slot.options != options:
            raise MisconfigurationError(
                f"`self.log({options.name!r}, ...)` was called twice in `{options.fx}` with different options "
                f"({_difference(slot.options, options)}); accepted: the same options for every call of a name in "
                "one hook.")
        slot.update(value, self._batch_size(slot, batch_size))
        return slot

    def _check_clash(self, options: LogOptions) -> None:
        mine = options.output_names()
        for slot in self.slots.values():
            other = slot.options
            if other.name == options.name or not (other.forked or options.forked):
                continue
            common = mine & other.output_names()
            if common:
                raise MisconfigurationError(
                    f"`self.log({options.name!r}, on_step={options.on_step}, on_epoch={options.on_epoch})` in "
                    f"`{options.fx}` would show as {sorted(common)}, which `self.log({other.name!r}, "
                    f"on_step={other.on_step}, on_epoch={other.on_epoch})` in `{other.fx}` also produces; accepted: "
                    "names that do not collide with another metric's `_step`/`_epoch` keys.")

    def _batch_size(self, slot: MetricSlot, batch_size: int | None) -> int:
        if batch_size is None:
            batch_size = self.batch_size
        if batch_size is not None:
            return batch_size
        options = slot.options
        if self.batch is None or not slot.is_tensor or not options.on_epoch or options.reduce != "mean":
            return 1
        self.batch_size = extract_batch_size(self.batch)
        return self.batch_size

    def views(self, on_step: bool) -> Views:
        """The three dictionaries' contributions: step values inside a batch loop, else epoch values."""
        out = Views({}, {}, {})
        for slot in self.slots.values():
            options = slot.options
            if slot.has_reset or options.dataloader_idx != self.dataloader_idx:
                continue
            value = slot.value(on_step)
            if value is None:
                continue
            name, forked = options.names(on_step)
            if options.logger:
                out.log[forked] = value
            if self.training or (options.on_epoch and not on_step):
                out.callback[name] = value
                out.callback[forked] = value
            if options.prog_bar:
                out.pbar[forked] = _scalar(options.name, value)
        return out

    def reset(self, tensors_only: bool = False, fx: str | None = None) -> None:
        """Reset every slot, or only tensor slots of hook `fx` (a new epoch's first call of that hook)."""
        for slot in self.slots.values():
            if tensors_only and not slot.is_tensor:
                continue
            if fx is None or _plain_fx(slot.options) == fx:
                slot.reset()

    def to_cpu(self) -> None:
        for slot in self.slots.values():
            slot.to_cpu()

    def state_dict(self) -> dict[str, Any]:
        """Every tensor slot's options and running aggregate (what a mid-epoch resume continues)."""
        return {key: {"options": _plain_options(slot.options), **slot.state_dict()}
                for key, slot in self.slots.items() if slot.is_tensor}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, saved in state.items():
            slot = MetricSlot(LogOptions(**saved["options"]), True, self.sync)
            slot.load_state_dict(saved)
            self.slots[key] = slot


def _plain_options(options: LogOptions) -> dict[str, Any]:
    """The options as plain data; a process group object is not saved (a resumed run logs anew with its own)."""
    fields = {name: getattr(options, name) for name in options.__dataclass_fields__}
    fields["sync_dist_group"] = None
    return fields


def _plain_fx(options: LogOptions) -> str | None:
    """The hook name a per-hook reset matches: none for values suffixed with a dataloader index."""
    return None if options.add_dataloader_idx and options.dataloader_idx is not None else options.fx


def _scalar(name: str, value: torch.Tensor) -> float:
    if value.numel() != 1:
        raise MisconfigurationError(f"The value logged as {name!r} has {value.numel()} elements; accepted: a "
                                    "single element to show it in the progress bar or a logger.")
    return value.item()


def _difference(old: LogOptions, new: LogOptions) -> str:
    fields = [f for f in old.__dataclass_fields__ if getattr(old, f) != getattr(new, f)]
    return ", ".join(f"{f}={getattr(old, f)!r} then {getattr(new, f)!r}" for f in fields)
