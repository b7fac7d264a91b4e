"""The Launcher interface: how the processes of a multi-process run come to exist."""
from __future__ import annotations

import os
from typing import Any, Callable

__all__ = ["Launcher", "LAUNCHER_PID_VARIABLE", "share_cpu_threads"]

LAUNCHER_PID_VARIABLE = "STATETRAINER_LAUNCHER_PID"  # set in every process a statetrainer launcher starts


class Launcher:
    """`launch(function, *args, **kwargs)` runs `function` in every process of the run.

    It returns what `function` returned in this process (the plain launcher, where this process
    is local rank 0), or what rank 0 returned (the spawn/fork launcher, whose workers are all
    new processes).
    """

    is_interactive_compatible = False

    def launch(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def kill(self, signum: int) -> None:
        """Send `signum` to every process this launcher started."""


def share_cpu_threads(num_processes: int) -> None:
    """Give each of the local processes its share of the CPU threads, unless OMP_NUM_THREADS decides."""
    if num_processes > 1 and "OMP_NUM_THREADS" not in os.environ:
        import torch
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // num_processes))
