"""Making every process of a run end soon after one of them dies, instead of at the collective timeout.

Two watchers, both daemon threads:
- the launching process watches the processes it started (`ChildrenWatcher`); when one exits with
  a non-zero code it waits a short grace (the other ranks usually fail on their own: gloo reports
  the closed connection), then kills the survivors and ends this process with exit code 1;
- a started process watches its launcher (`watch_launcher`); if the launcher disappears (killed),
  it ends itself.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

__all__ = ["ChildrenWatcher", "watch_launcher"]


def _say(text: str) -> None:
    sys.stderr.write(f"[statetrainer pid {os.getpid()}] {text}\n")
    sys.stderr.flush()


class ChildrenWatcher(threading.Thread):
    """Polls `processes` (local ranks 1..n-1); on the first failure, ends the whole local group."""

    def __init__(self, processes: list[subprocess.Popen], grace_s: float = 2.0, poll_s: float = 0.2):
        super().__init__(name="statetrainer-children-watcher", daemon=True)
        self.processes = processes
        self.grace_s = grace_s
        self.poll_s = poll_s
        self.reported: set[int] = set()  # local ranks whose failure was already said

    def failed(self) -> tuple[int, subprocess.Popen] | None:
        """(local rank, process) of the first child that exited with a non-zero code, if any."""
        for rank, proc in enumerate(self.processes, start=1):
            if proc.poll() not in (None, 0):
                return rank, proc
        return None

    def run(self) -> None:
        while True:
            failure = self.failed()
            if failure is not None:
                self._end_everything()
                return
            if all(proc.poll() == 0 for proc in self.processes):
                return
            time.sleep(self.poll_s)

    def report_failures(self, then: str = "") -> None:
        """Say (once each) which started processes exited with an error, and their codes."""
        for rank, proc in enumerate(self.processes, start=1):
            if proc.poll() not in (None, 0) and rank not in self.reported:
                self.reported.add(rank)
                _say(f"local rank {rank} (pid {proc.pid}) exited with code {proc.returncode}{then}.")

    def _end_everything(self) -> None:
        self.report_failures(f"; ending the other processes of this run in {self.grace_s:g} s")
        time.sleep(self.grace_s)  # meanwhile this process's run may fail on its own (on_exception, exit code 1)
        self.kill(signal.SIGKILL)
        os._exit(1)

    def kill(self, signum: int) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                try:
                    proc.send_signal(signum)
                except ProcessLookupError:
                    pass

    def wait_all(self, limit_s: float | None = None) -> None:
        """Wait for every child, at most `limit_s` in all (at exit: the script must not end before its other ranks)."""
        deadline = None if limit_s is None else time.monotonic() + limit_s
        for proc in self.processes:
            try:
                proc.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                return


def _watch(launcher_pid: int, poll_s: float) -> None:
    while os.getppid() == launcher_pid:
        time.sleep(poll_s)
    _say(f"the launching process (pid {launcher_pid}) is gone; ending this rank.")
    os._exit(1)


_WATCHED: set[int] = set()  # launcher pids this process already watches


def watch_launcher(poll_s: float = 0.2) -> bool:
    """If a statetrainer launcher started this process, end it when that launcher dies. True if watching."""
    from statetrainer.strategies.launchers.launcher import LAUNCHER_PID_VARIABLE
    pid = os.environ.get(LAUNCHER_PID_VARIABLE, "")
    if not pid.isdigit() or int(pid) != os.getppid():
        return False
    if int(pid) not in _WATCHED:
        _WATCHED.add(int(pid))
        threading.Thread(target=_watch, args=(int(pid), poll_s), name="statetrainer-launcher-watch",
                         daemon=True).start()
    return True
