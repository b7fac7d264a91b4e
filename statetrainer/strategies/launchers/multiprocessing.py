"""The "ddp_spawn" / "ddp_fork" / "ddp_notebook" launcher: torch.multiprocessing starts every rank."""
from __future__ import annotations

import io
import os
import pickle
import random
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.multiprocessing as mp

from statetrainer.errors import MisconfigurationError
from statetrainer.strategies.launchers.launcher import LAUNCHER_PID_VARIABLE, Launcher, share_cpu_threads
from statetrainer.strategies.launchers.watch import watch_launcher

__all__ = ["MultiProcessingLauncher", "check_start_method"]


def check_start_method(start_method: str, flag: str = "strategy") -> None:
    """Refuse a start method this platform or this process cannot use, naming the flag."""
    if start_method not in mp.get_all_start_methods():
        raise MisconfigurationError(
            f"`{flag}` asks for processes started by {start_method!r}, which this platform does not offer; accepted "
            f"here: start methods {', '.join(mp.get_all_start_methods())} (strategy='ddp_spawn' works everywhere).")
    if start_method in ("fork", "forkserver") and torch.cuda.is_available() and torch.cuda.is_initialized():
        raise MisconfigurationError(
            f"`{flag}` asks for forked processes, but CUDA is already initialised in this process and a forked "
            "child cannot use it; accepted: strategy='ddp_spawn' or 'ddp', or fork before anything touches CUDA.")


@dataclass
class _GlobalTorchState:
    """torch settings a spawned worker would otherwise lose (a fresh interpreter starts from defaults)."""

    deterministic: bool
    deterministic_warn_only: bool
    cudnn_benchmark: bool
    rng: tuple  # torch CPU, python, numpy

    @classmethod
    def capture(cls) -> "_GlobalTorchState":
        return cls(torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
                   torch.backends.cudnn.benchmark, (torch.get_rng_state(), random.getstate(), np.random.get_state()))

    def restore(self) -> None:
        torch.use_deterministic_algorithms(self.deterministic, warn_only=self.deterministic_warn_only)
        torch.backends.cudnn.benchmark = self.cudnn_benchmark
        torch.set_rng_state(self.rng[0])
        random.setstate(self.rng[1])
        np.random.set_state(self.rng[2])


def _packed(obj: Any) -> bytes:
    """`obj` as bytes, tensors by value (torch.save's pickling: plain pickle cannot bring every tensor back,
    e.g. a uint32 one, and torch.multiprocessing's would share their memory between the ranks)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer, pickle_protocol=pickle.HIGHEST_PROTOCOL)
    return buffer.getvalue()


def _unpacked(data: bytes) -> Any:
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)  # written by this run's launcher


def _worker(index: int, work: Any, queue: Any, num_processes: int, state: _GlobalTorchState | None) -> None:
    """One rank. `work` is (function, args, kwargs), or its packed bytes when the worker was spawned: every
    spawned rank then unpacks a private copy (torch's own pickling would hand all of them the same
    tensors in shared memory, and every rank would train one set of weights)."""
    os.environ["LOCAL_RANK"] = str(index)
    watch_launcher()
    if state is not None:
        state.restore()
    function, args, kwargs = _unpacked(work) if isinstance(work, bytes) else work
    share_cpu_threads(num_processes)
    result = function(*args, **kwargs)
    if index == 0:
        queue.put(_packed(result))  # by value, not as shared-memory handles


class MultiProcessingLauncher(Launcher):
    """Starts `num_processes` workers with `start_method` ('spawn', 'fork' or 'forkserver') and waits for them.

    Every worker runs `function(*args, **kwargs)` with LOCAL_RANK set to its index; what worker 0
    returns (a `HandBack` or any picklable value) comes back from `launch`. When a worker fails,
    the others get `grace_s` to end, then SIGTERM, then SIGKILL; the error is raised here.
    """

    def __init__(self, cluster_environment: Any, num_processes: int, start_method: str = "spawn",
                 grace_s: float = 1.5):
        check_start_method(start_method)
        self.cluster_environment = cluster_environment
        self.num_processes = num_processes
        self.start_method = start_method
        self.grace_s = grace_s
        self.procs: list = []

    @property
    def is_interactive_compatible(self) -> bool:
        return self.start_method == "fork"

    def launch(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        check_start_method(self.start_method)
        _check_main_guard(self.start_method)
        os.environ["MASTER_ADDR"] = self.cluster_environment.main_address
        os.environ["MASTER_PORT"] = str(self.cluster_environment.main_port)
        os.environ[LAUNCHER_PID_VARIABLE] = str(os.getpid())
        if self.start_method == "fork":
            import torch._dynamo  # noqa: F401  DDP and torch.optim import it in every rank: once here, shared by forks
        context = mp.get_context(self.start_method)
        queue = context.SimpleQueue()
        forked = self.start_method == "fork"
        work = (function, args, kwargs) if forked else _packed((function, args, kwargs))
        state = None if forked else _GlobalTorchState.capture()
        processes = mp.start_processes(_worker, args=(work, queue, self.num_processes, state),
                                       nprocs=self.num_processes, start_method=self.start_method, join=False)
        self.procs = processes.processes
        received = None
        while not processes.join(timeout=0.1, grace_period=self.grace_s):
            if received is None and not queue.empty():
                received = queue.get()  # read while waiting: a large result must not block worker 0's exit
        if received is None and not queue.empty():
            received = queue.get()
        return None if received is None else _unpacked(received)

    def kill(self, signum: int) -> None:
        for proc in self.procs:
            if proc.is_alive() and proc.pid is not None:
                try:
                    os.kill(proc.pid, signum)
                except ProcessLookupError:
                    pass

    def __getstate__(self) -> dict:
        return {**self.__dict__, "procs": []}  # process handles do not pickle


def _check_main_guard(start_method: str) -> None:
    """A spawned child re-imports the main script; if that script launches again, say what to add."""
    import multiprocessing
    if start_method == "spawn" and getattr(multiprocessing.current_process(), "_inheriting", False):
        raise MisconfigurationError(
            "`strategy` got 'ddp_spawn' and the script started the run again while a spawned worker was importing "
            "it; accepted: put the code that starts training under `if __name__ == \"__main__\":`.")
