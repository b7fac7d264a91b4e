"""Expanding SLURM's compressed host lists ("node[001-003,007],gpu5") without calling scontrol."""
from __future__ import annotations

import itertools
import re

__all__ = ["expand_hostlist"]

_GROUP = re.compile(r"\[([^\[\]]*)\]")


def _split_top_level(text: str) -> list[str]:
    """Split at commas and spaces that are not inside brackets."""
    items, depth, current = [], 0, []
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char in ", " and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item for item in items if item]


def _expand_group(body: str, hostlist: str) -> list[str]:
    """'001-003,7' -> ['001', '002', '003', '7'] (a range keeps the width of its first bound)."""
    values = []
    for part in body.split(","):
        low, sep, high = part.partition("-")
        if not sep:
            values.append(low)
            continue
        if not (low.isdigit() and high.isdigit()) or int(high) < int(low):
            raise ValueError(f"the host list {hostlist!r} has a range {part!r} that is not 'low-high' with low <= high")
        values.extend(str(n).zfill(len(low)) for n in range(int(low), int(high) + 1))
    return values


def _expand_item(item: str, hostlist: str) -> list[str]:
    pieces = _GROUP.split(item)  # literal, group, literal, group, ..., literal
    if "[" in "".join(pieces[::2]) or "]" in "".join(pieces[::2]):
        raise ValueError(f"the host list {hostlist!r} has unbalanced brackets in {item!r}")
    choices = [[piece] if i % 2 == 0 else _expand_group(piece, hostlist) for i, piece in enumerate(pieces)]
    return ["".join(combo) for combo in itertools.product(*choices)]


def expand_hostlist(hostlist: str) -> list[str]:
    """Every host name a SLURM node list names, in order: 'a[1-2],b' -> ['a1', 'a2', 'b'].

    Several bracket groups in one name multiply ('r[1-2]n[1-2]' -> r1n1, r1n2, r2n1, r2n2).
    """
    return [host for item in _split_top_level(hostlist.strip()) for host in _expand_item(item, hostlist)]
