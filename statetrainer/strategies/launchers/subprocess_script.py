"""The "ddp" launcher: a plainly started script re-runs its own command line for local ranks 1..n-1.

Under torchrun, srun or any environment that starts the processes itself, it starts nothing.
"""
from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
from typing import Any, Callable

from statetrainer.errors import MisconfigurationError
from statetrainer.strategies.launchers.launcher import LAUNCHER_PID_VARIABLE, Launcher, share_cpu_threads
from statetrainer.strategies.launchers.watch import ChildrenWatcher, watch_launcher

__all__ = ["SubprocessScriptLauncher", "script_command"]


def script_command() -> list[str]:
    """The command line that started this process: `python path/to/script.py ...` or `python -m pkg.mod ...`."""
    import __main__
    spec = getattr(__main__, "__spec__", None)
    if spec is not None and spec.name != "__main__":
        return [sys.executable, "-m", spec.name, *sys.argv[1:]]
    script = getattr(__main__, "__file__", None)
    if not script or not sys.argv or sys.argv[0] in ("", "-c"):
        raise MisconfigurationError(
            "`strategy` got 'ddp', which starts the other processes by running this script again, but this "
            "process has no script to re-run (an interactive session or `python -c`); accepted here: "
            "strategy='ddp_notebook' / 'ddp_fork' / 'ddp_spawn', or start the processes with torchrun.")
    return [sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]]


class SubprocessScriptLauncher(Launcher):
    """Starts local ranks 1..`num_processes`-1 as copies of this command line; this process is local rank 0.

    Each copy gets MASTER_ADDR, MASTER_PORT, NODE_RANK, LOCAL_RANK, RANK and WORLD_SIZE from the
    cluster environment (this process sets them for itself too, so a later run in the same
    script does not start copies again). This process watches the copies: when one dies, every rank ends within
    `grace_s` (plus a poll) instead of waiting for the collective timeout; the copies end when
    this process dies. At exit, this process waits for its copies.
    """

    def __init__(self, cluster_environment: Any, num_processes: int, num_nodes: int, grace_s: float = 2.0):
        self.cluster_environment = cluster_environment
        self.num_processes = num_processes
        self.num_nodes = num_nodes
        self.grace_s = grace_s
        self.procs: list[subprocess.Popen] = []
        self.watcher: ChildrenWatcher | None = None
        self.failed = False  # this process's run raised: at exit the other ranks get `grace_s`, then end

    def launch(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        self.cluster_environment.validate_settings(num_devices=self.num_processes, num_nodes=self.num_nodes)
        if not self.cluster_environment.creates_processes_externally:
            self._start_copies()
        else:
            watch_launcher()
        share_cpu_threads(self.num_processes)
        try:
            return function(*args, **kwargs)
        except BaseException:
            self.failed = True
            raise

    def _child_environment(self, local_rank: int) -> dict[str, str]:
        env = dict(os.environ)
        env["LOCAL_RANK"] = str(local_rank)
        env["RANK"] = str(self.cluster_environment.node_rank() * self.num_processes + local_rank)
        env[LAUNCHER_PID_VARIABLE] = str(os.getpid())
        return env

    def _start_copies(self) -> None:
        if self.procs:
            raise RuntimeError("this launcher already started its processes; a launcher starts them once.")
        command = script_command()
        env = self.cluster_environment
        os.environ.update({"MASTER_ADDR": env.main_address, "MASTER_PORT": str(env.main_port),
                           "NODE_RANK": str(env.node_rank()), "LOCAL_RANK": "0",
                           "RANK": str(env.node_rank() * self.num_processes),
                           "WORLD_SIZE": str(self.num_processes * self.num_nodes)})
        for local_rank in range(1, self.num_processes):
            self.procs.append(subprocess.Popen(command, env=self._child_environment(local_rank)))
        self.watcher = ChildrenWatcher(self.procs, grace_s=self.grace_s)
        self.watcher.start()
        atexit.register(self._end_with_children)

    def kill(self, signum: int) -> None:
        if self.watcher is not None:
            self.watcher.kill(signum)

    def _end_with_children(self) -> None:
        """At exit. After a failure here: close this rank's connections first (a rank waiting on it in a
        collective then fails at once), give the other ranks `grace_s`, kill what is left. After success: wait
        for the other ranks to end first (this process hosts the rendezvous they may still use), then close."""
        import torch.distributed as dist
        if self.failed and dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        self.watcher.wait_all(self.grace_s if self.failed else None)
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        self.watcher.report_failures()  # the launching process names the rank that failed first
        self.watcher.kill(signal.SIGKILL)

    @property
    def leaves_process_group_at_exit(self) -> bool:
        """This launcher started processes and leaves the process group itself at exit (after them)."""
        return bool(self.procs)
