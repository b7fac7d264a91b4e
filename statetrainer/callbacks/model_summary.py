"""ModelSummary: the parameter table printed when fit starts; ``summary_table(model)`` builds it alone.

    >>> print(summary_table(net))                                       # doctest: +SKIP
      | Name    | Type       | Params | Mode
    ------------------------------------------
    0 | encoder | Sequential | 16     | train
    1 | head    | Linear     | 5      | train
    ------------------------------------------
    21        Trainable params
    0         Non-trainable params
    21        Total params
    0.000     Total estimated model params size (MB)
    4         Modules in train mode
    0         Modules in eval mode

With ``example_input_array`` set on the model, one forward pass (no grad, eval mode, modes
restored afterwards) adds the "In sizes" and "Out sizes" columns. Parameters that belong to
no listed layer appear as "other params". Lightning's FLOPs column is not computed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from statetrainer.callbacks.callback import Callback
from statetrainer.console import CONSOLE
from statetrainer.errors import flag_error

__all__ = ["ModelSummary", "summary_table", "summarize", "human_count", "LayerRow"]

_UNITS = (" ", "K", "M", "B", "T")


@dataclass
class LayerRow:
    """One line of the table: a submodule's dotted name, class name, parameter count and mode."""

    name: str
    type: str
    params: int
    training: bool
    in_size: Any = "?"
    out_size: Any = "?"


def human_count(number: int) -> str:
    """123 -> '123  ', 1234 -> '1.2 K', 132_000 -> '132 K', 2e6 -> '2.0 M' (beyond T it stays in T)."""
    digits = len(str(int(number))) if number > 0 else 1
    group = min(math.ceil(digits / 3), len(_UNITS)) - 1
    scaled = number / 10 ** (3 * group)
    if group == 0 or scaled >= 100:
        return f"{int(scaled):,d} {_UNITS[group]}"
    return f"{scaled:,.1f} {_UNITS[group]}"


def _count(parameters: Any) -> int:
    return sum(p.numel() for p in parameters if not isinstance(p, nn.parameter.UninitializedParameter))


def _listed_modules(model: nn.Module, max_depth: int) -> list[tuple[str, nn.Module]]:
    if max_depth == 0:
        return []
    if max_depth == 1:
        return list(model.named_children())
    named = list(model.named_modules())[1:]
    return [(name, module) for name, module in named if max_depth == -1 or name.count(".") < max_depth]


def summarize(model: nn.Module, max_depth: int = 1) -> list[LayerRow]:
    """The rows of the table: submodules down to `max_depth` levels (-1: all, 0: none)."""
    if not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < -1:
        raise flag_error("max_depth", max_depth, "-1 (all levels), 0 (no table) or an int > 0")
    listed = _listed_modules(model, max_depth)
    rows = [LayerRow(name, type(module).__name__, _count(module.parameters()), module.training)
            for name, module in listed]
    example = getattr(model, "example_input_array", None)
    if example is not None and rows:
        _record_sizes(model, example, dict(zip((name for name, _ in listed), rows)), dict(listed))
    return rows


def _shape(value: Any) -> Any:
    if hasattr(value, "shape"):
        return list(value.shape)
    if isinstance(value, (list, tuple)):
        return [_shape(item) for item in value]
    return "?"


def _record_sizes(model: nn.Module, example: Any, rows: dict[str, LayerRow], modules: dict[str, nn.Module]) -> None:
    from statetrainer.loop.transfer import move_to_device

    def hook_for(row: LayerRow):
        def hook(_module, args, kwargs, output):
            if row.in_size == "?":
                inputs = (*args, *kwargs.values())
                row.in_size = _shape(inputs[0] if len(inputs) == 1 else inputs)
                row.out_size = _shape(output)
        return hook

    handles = [modules[name].register_forward_hook(hook_for(row), with_kwargs=True) for name, row in rows.items()]
    modes = {module: module.training for module in model.modules()}
    device = next(model.parameters(), torch.empty(0)).device
    example = move_to_device(example, device)
    try:
        model.eval()
        with torch.no_grad():
            if isinstance(example, (list, tuple)):
                model(*example)
            elif isinstance(example, dict):
                model(**example)
            else:
                model(example)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training


def summary_table(model: nn.Module, max_depth: int = 1, precision_bits: int = 32) -> str:
    """The printed table: one row per listed submodule, then parameter totals and module modes."""
    rows = summarize(model, max_depth)
    total = _count(model.parameters())
    trainable = _count(p for p in model.parameters() if p.requires_grad)
    columns = _columns(model, rows, total)
    modes = [module.training for module in list(model.modules())[1:]]
    footer = [(human_count(trainable), "Trainable params"),
              (human_count(total - trainable), "Non-trainable params"),
              (human_count(total), "Total params"),
              (f"{total * precision_bits / 8 * 1e-6:,.3f}", "Total estimated model params size (MB)"),
              (str(modes.count(True)), "Modules in train mode"),
              (str(modes.count(False)), "Modules in eval mode")]
    return _format(columns) + "\n" + "\n".join(f"{value:<10}{label}" for value, label in footer)


def _columns(model: nn.Module, rows: list[LayerRow], total: int) -> list[tuple[str, list[str]]]:
    columns = [(" ", [str(i) for i in range(len(rows))]), ("Name", [row.name for row in rows]),
               ("Type", [row.type for row in rows]), ("Params", [human_count(row.params) for row in rows]),
               ("Mode", ["train" if row.training else "eval" for row in rows])]
    sized = getattr(model, "example_input_array", None) is not None
    if sized:
        columns += [("In sizes", [str(row.in_size) for row in rows]), ("Out sizes", [str(row.out_size) for row in rows])]
    leftover = total - sum(row.params for row in rows)
    if leftover > 0:
        extra = [" ", "other params", "n/a", human_count(leftover), "n/a"] + ["n/a", "n/a"] * sized
        for (_, values), cell in zip(columns, extra):
            values.append(cell)
    return columns


def _format(columns: list[tuple[str, list[str]]]) -> str:
    widths = [max([len(header), *map(len, values)]) for header, values in columns]
    header = " | ".join(title.ljust(width) for (title, _), width in zip(columns, widths))
    rule = "-" * len(header)
    lines = [header, rule]
    for index in range(len(columns[0][1])):
        lines.append(" | ".join(values[index].ljust(width) for (_, values), width in zip(columns, widths)))
    return "\n".join(lines + [rule])


def _precision_bits(precision: Any) -> int:
    text = str(precision)
    if text.startswith("64"):
        return 64
    return 16 if text in ("16", "bf16", "16-true", "bf16-true") else 32


class ModelSummary(Callback):
    """Print the model's parameter table when fit starts (global rank 0; ``max_depth=0`` prints nothing).

    Args:
        max_depth: how many levels of submodules to list; -1 lists all of them.
    """

    def __init__(self, max_depth: int = 1) -> None:
        if not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < -1:
            raise flag_error("max_depth", max_depth, "-1 (all levels), 0 (no table) or an int > 0")
        self._max_depth = max_depth

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if not self._max_depth or not getattr(trainer, "is_global_zero", True):
            return
        bits = _precision_bits(getattr(trainer, "precision", "32-true"))
        CONSOLE.print(summary_table(pl_module, self._max_depth, bits))
