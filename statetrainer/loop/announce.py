"""The one-line messages the loop itself prints (a resume, an interrupt), on global rank 0 only.

They go through `announce`, so a progress bar that is showing can route them (it registers a writer
with `set_writer` while it shows) and a test can capture them."""
from __future__ import annotations

import sys
from typing import Callable, Optional

__all__ = ["announce", "set_writer"]

_writer: Optional[Callable[[str], None]] = None


def set_writer(writer: Optional[Callable[[str], None]]) -> Optional[Callable[[str], None]]:
    """Route messages through `writer` (None: plain print); returns the previous writer."""
    global _writer
    previous, _writer = _writer, writer
    return previous


def announce(text: str, rank_zero: bool = True) -> None:
    """Print one line (only where `rank_zero` is True: the caller knows its strategy)."""
    if not rank_zero:
        return
    if _writer is not None:
        _writer(text)
    else:
        print(text, file=sys.stdout, flush=True)
