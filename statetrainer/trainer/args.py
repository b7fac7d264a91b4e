"""Trainer.add_argparse_args / from_argparse_args: every flag as --name on the command line."""
from __future__ import annotations

import argparse
from typing import Any

from statetrainer.trainer.flags import FLAG_HELP

__all__ = ["add_argparse_args", "flags_from_args", "parse_value"]

_NOT_CLI = {"callbacks", "plugins", "logger"}


def parse_value(text: str) -> Any:
    """'3' -> 3, '0.5' -> 0.5, 'true'/'false' -> bool, 'none' -> None, '1,2' -> [1, 2], else the string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    if "," in text:
        parts = [parse_value(part) for part in text.split(",") if part.strip()]
        return parts
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def add_argparse_args(parent_parser: argparse.ArgumentParser, use_argument_group: bool = True):
    """Add every Trainer flag (except callbacks/plugins objects) as an option; returns the parser."""
    group = parent_parser.add_argument_group("statetrainer.Trainer") if use_argument_group else parent_parser
    for name, (default, help_text) in FLAG_HELP.items():
        if name in _NOT_CLI:
            continue
        group.add_argument(f"--{name}", dest=name, default=default, type=parse_value,
                           help=f"{help_text} (default: {default!r})")
    group.add_argument("--logger", dest="logger", default=None, type=parse_value,
                       help="true (TensorBoard) or false (default: true)")
    return parent_parser


def flags_from_args(args: argparse.Namespace | dict) -> dict:
    """The Trainer flags present in parsed args (other keys are ignored)."""
    values = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    return {name: values[name] for name in FLAG_HELP if name in values}
