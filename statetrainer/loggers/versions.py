"""Run folders: ``root/version_N`` numbering shared by the TensorBoard and CSV loggers."""
from __future__ import annotations

import os

__all__ = ["next_version", "version_folder"]


def next_version(root: str) -> int:
    """One more than the highest ``version_N`` folder under `root`; 0 when there is none."""
    try:
        entries = os.listdir(root)
    except OSError:
        return 0
    numbers = [int(entry[len("version_"):]) for entry in entries
               if entry.startswith("version_") and entry[len("version_"):].isdigit()
               and os.path.isdir(os.path.join(root, entry))]
    return max(numbers) + 1 if numbers else 0


def version_folder(version: int | str) -> str:
    """The folder name for a version: a string is used as given, a number N gives ``version_N``."""
    return version if isinstance(version, str) else f"version_{version}"
