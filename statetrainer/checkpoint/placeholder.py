"""What a checkpoint gives back in place of a value it could only describe: an inert Placeholder.

A class, a function, an Enum member, an ``nn.Module`` or any other object cannot be rebuilt from a
file without importing the code that defines it, and statetrainer never imports or calls anything a
checkpoint names. Such values are written as a description (their kind, their qualified type name as
text, their ``repr``) and read back as a ``Placeholder`` holding that description. A placeholder is
plain data in disguise: it has no behaviour beyond telling what it stands for, and writing it to a
checkpoint again records the same description.
"""
from __future__ import annotations

from typing import Any

__all__ = ["Placeholder", "KINDS"]

# kind -> how an error message or repr words it
KINDS = {
    "class": "a class",
    "function": "a function",
    "enum": "an Enum member",
    "module": "an nn.Module",
    "dataclass": "a dataclass instance",
    "object": "an object",
    "unknown": "a record this version of statetrainer does not know",
}


class Placeholder:
    """Stands for a value a checkpoint recorded only as a description; nothing in it can run code.

    ``kind`` is one of ``KINDS``; ``type_name`` the qualified name of the value's type (or of the class
    or function itself) as text, never looked up; ``text`` its ``repr`` when it was written; ``details``
    what else was safe to keep: an Enum member's ``name`` and ``value``, a dataclass's ``fields``.
    """

    __slots__ = ("kind", "type_name", "text", "details")

    def __init__(self, kind: str, type_name: str, text: str, details: dict[str, Any] | None = None):
        self.kind = kind
        self.type_name = type_name
        self.text = text
        self.details = dict(details or {})

    def describe(self) -> str:
        """One phrase for messages, e.g. ``a class (mypkg.Encoder)``, ``an Enum member (mypkg.Mode.TRAIN)``."""
        name = self.type_name
        if self.kind == "enum" and isinstance(self.details.get("name"), str):
            name = f"{name}.{self.details['name']}"
        return f"{KINDS.get(self.kind, 'a value')} ({name})"

    def __repr__(self) -> str:
        return f"<checkpoint placeholder for {self.describe()}: {self.text}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Placeholder):
            return NotImplemented
        return (self.kind, self.type_name, self.text, self.details) == (
            other.kind, other.type_name, other.text, other.details)

    def __hash__(self) -> int:
        return hash((self.kind, self.type_name, self.text))
