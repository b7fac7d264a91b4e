"""jsonargparse's error texts (several lines of type internals) reworded as one sentence.

``one_line(parser, message)`` names the option, the value given and what is accepted; an unknown
option gets the closest known name when one is near.
"""
from __future__ import annotations

import difflib
import re
from typing import Any, Iterable, Optional

from statetrainer.cli.type_words import describe_type

__all__ = ["one_line", "option_names"]

_KEY = re.compile(r'Parser key "(?P<key>[^"]+)"')
_VALUE = re.compile(r"(?:Given value|Got value): (?P<value>.*)$", re.M)
_UNKNOWN = re.compile(r"^unrecognized arguments: (?P<given>.+)$", re.I)
_NOT_ACCEPTED = re.compile(r"does not accept (?:option|key)s? '?(?P<given>[\w.]+)'?", re.I)


def _parsers(parser: Any) -> Iterable[Any]:
    """`parser` and every subcommand parser below it."""
    yield parser
    for action in getattr(parser, "_actions", []):
        for sub in (getattr(action, "_name_parser_map", None) or {}).values():
            yield from _parsers(sub)


def option_names(parser: Any) -> list[str]:
    """Every `--option` of `parser` and its subcommand parsers."""
    return sorted({name for sub in _parsers(parser) for action in sub._actions for name in action.option_strings
                   if name.startswith("--")})


def _type_of(parser: Any, key: str) -> Optional[Any]:
    for sub in _parsers(parser):
        for action in sub._actions:
            if action.dest == key and getattr(action, "_typehint", None) is not None:
                return action._typehint
    return None


def _bad_value(parser: Any, message: str) -> Optional[str]:
    key, value = _KEY.search(message), _VALUE.search(message)
    if not key or not value:
        return None
    annotation = _type_of(parser, key.group("key"))
    accepted = describe_type(annotation) if annotation is not None else "see --help"
    return f"--{key.group('key')} got {value.group('value').strip()!r}; accepted: {accepted}."


def _closest(parser: Any, given: str) -> str:
    name = given.split("=", 1)[0]
    if not name.startswith("-"):
        name = "--" + name
    near = difflib.get_close_matches(name, option_names(parser), n=1, cutoff=0.75)
    return f" (did you mean {near[0]}?)" if near else ""


def _unknown(parser: Any, message: str) -> Optional[str]:
    found = _UNKNOWN.match(message.strip()) or _NOT_ACCEPTED.search(message)
    if not found:
        return None
    given = found.group("given").strip()
    return f"unknown option {given}{_closest(parser, given.split()[0])}; run with --help for the accepted options."


def one_line(parser: Any, message: str) -> str:
    """`message` as one sentence naming the option, the value and what is accepted."""
    text = _bad_value(parser, message) or _unknown(parser, message)
    if text is None:
        lines = [line.strip() for line in str(message).splitlines() if line.strip()]
        text = " ".join(lines[:3]) if lines else "invalid arguments"
    return " ".join(text.split())
