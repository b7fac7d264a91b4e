"""A type annotation in words: ``Optional[Union[int, float]]`` -> ``an int, a float or None``.

Used by the one-line command-line errors and by the generated flag reference (docs/flags.md).
"""
from __future__ import annotations

import typing
from datetime import timedelta
from typing import Any, Literal, Union

__all__ = ["describe_type"]

_NAMES = {int: "an int", float: "a float", str: "a str", bool: "true/false", type(None): "None",
          timedelta: "a timedelta", dict: "a dict", list: "a list", Any: "anything"}


def _parts(annotation: Any) -> list[str]:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Union:
        return [word for arg in args for word in _parts(arg)]
    if origin is Literal:
        return [repr(value) for value in args]
    if origin in (list, typing.List):
        return [f"a list of {' / '.join(_bare(arg) for arg in _flat(args[0]))}" if args else "a list"]
    if origin in (dict, typing.Dict):
        return [f"a dict {{{describe_type(args[0])}: {describe_type(args[1])}}}" if args else "a dict"]
    if annotation in _NAMES:
        return [_NAMES[annotation]]
    if isinstance(annotation, type):
        name = annotation.__name__
        return [f"{'an' if name[0] in 'AEIOU' else 'a'} {name} (class_path)"]
    return [str(annotation).replace("typing.", "")]


def _flat(annotation: Any) -> tuple:
    return typing.get_args(annotation) if typing.get_origin(annotation) is Union else (annotation,)


def _bare(annotation: Any) -> str:
    """A list item's name without its article: `Callback`, `int`."""
    return getattr(annotation, "__name__", str(annotation))


def describe_type(annotation: Any) -> str:
    """The values `annotation` accepts, in words, None last."""
    words = list(dict.fromkeys(_parts(annotation)))
    if "None" in words:
        words = [word for word in words if word != "None"] + ["None"]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]
