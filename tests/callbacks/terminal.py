"""A pseudo-terminal for the progress bar tests, and a small screen emulator to read what it shows.

`PseudoTerminal` is a real pty (``os.openpty``): its slave end is a terminal to tqdm and rich
(``isatty()`` is True, it has a size); a thread drains the master end. `screen(raw)` replays the raw
bytes the way a terminal would -- carriage return, newline, cursor up/down, erase line, colours
ignored -- and returns the lines a user would see at the end.
"""
from __future__ import annotations

import fcntl
import os
import re
import struct
import termios
import threading

_TOKEN = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b[()][A-Za-z0-9]|([\r\n\b])|([^\x1b\r\n\b]+)")


class PseudoTerminal:
    """``with PseudoTerminal(columns=120) as term: ... term.file ...``; ``term.raw`` afterwards."""

    def __init__(self, columns: int = 120, rows: int = 40) -> None:
        self.columns, self.rows = columns, rows
        self._chunks: list[bytes] = []
        self._master = self._slave = -1
        self._reader: threading.Thread | None = None
        self.file = None
        self.raw = ""

    def __enter__(self) -> "PseudoTerminal":
        self._master, self._slave = os.openpty()
        fcntl.ioctl(self._slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.rows, self.columns, 0, 0))
        attrs = termios.tcgetattr(self._slave)
        attrs[1] &= ~termios.ONLCR  # keep "\n" as the program wrote it (no "\r\n" translation)
        termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        self.file = os.fdopen(self._slave, "w", buffering=1, encoding="utf-8", closefd=False)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        return self

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    def __exit__(self, *exc) -> None:
        self.file.flush()
        os.close(self._slave)
        self._reader.join(timeout=5)
        os.close(self._master)
        self.raw = b"".join(self._chunks).decode("utf-8", errors="replace")


def screen(raw: str, width: int = 400) -> list[str]:
    """The lines left on screen after `raw` is written to a terminal, trailing blanks removed."""
    lines: list[list[str]] = [[]]
    row = col = 0
    for match in _TOKEN.finditer(raw):
        params, command, control, text = match.groups()
        if text:
            line = _line(lines, row)
            for char in text:
                if col < width:
                    line.extend(" " * (col + 1 - len(line)))
                    line[col] = char
                    col += 1
        elif control == "\r":
            col = 0
        elif control == "\n":
            row, col = row + 1, 0
        elif control == "\b":
            col = max(0, col - 1)
        elif command:
            row, col = _csi(lines, row, col, params, command)
    while lines and not "".join(lines[-1]).strip():
        lines.pop()
    return ["".join(line).rstrip() for line in lines]


def _line(lines: list[list[str]], row: int) -> list[str]:
    while len(lines) <= row:
        lines.append([])
    return lines[row]


def _csi(lines: list[list[str]], row: int, col: int, params: str, command: str) -> tuple[int, int]:
    count = int(params) if params.isdigit() else 1
    if command == "A":
        return max(0, row - count), col
    if command == "B":
        return row + count, col
    if command == "G":
        return row, count - 1
    if command == "K":
        line = _line(lines, row)
        if params in ("", "0"):
            del line[col:]
        else:
            line.clear()
    return row, col
