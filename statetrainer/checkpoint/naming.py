"""Checkpoint file names from templates such as ``"{epoch}-{val_loss:.2f}"``, named as Lightning names them.

Each ``{name}`` or ``{name:spec}`` field is replaced by the metric's value formatted with `spec`
(a 0-d tensor formats as its Python number, so ``{epoch:02d}`` and ``{val_loss:.3f}`` work on
tensors); with ``auto_insert_metric_name`` the field becomes ``name=value``. A field whose metric
is missing is filled with 0, as Lightning does. No template means ``"{epoch}-{step}"``.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

import torch

__all__ = ["format_stem", "template_fields", "DEFAULT_TEMPLATE", "JOIN", "EQUALS"]

DEFAULT_TEMPLATE = "{epoch}-{step}"
JOIN, EQUALS = "-", "="
# a field starts at "{" and its name runs to the first ":" or "}"; the spec, if any, runs to the next "}"
_FIELD = re.compile(r"\{([^:}]*)(?::([^}]*))?\}")


def template_fields(template: str | None) -> list[str]:
    """The metric names a template refers to, in order of appearance."""
    return [match.group(1) for match in _FIELD.finditer(template or DEFAULT_TEMPLATE)]


def format_stem(template: str | None, metrics: Mapping[str, Any], auto_insert_metric_name: bool = True,
                prefix: str | None = None) -> str:
    """The file name without extension for `metrics` (values are tensors or numbers)."""

    def fill(match: re.Match) -> str:
        name, spec = match.group(1), match.group(2) or ""
        value = metrics.get(name)
        text = format(torch.tensor(0) if value is None else value, spec)
        return f"{name}{EQUALS}{text}" if auto_insert_metric_name else text

    stem = _FIELD.sub(fill, template or DEFAULT_TEMPLATE)
    return stem if prefix is None else JOIN.join((prefix, stem))
