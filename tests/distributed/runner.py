"""Starting the distributed test scripts: a clean environment, free local ports, and a hard time limit.

Every command runs in its own process group; when it outlives its limit the whole group is
SIGKILLed and the test fails (a hung run must fail, never hang the suite). Output goes to files
so a process that outlives its parent cannot hold a pipe open.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARD_LIMIT_S = 240  # a run past this is a hang: generous, because 8 test runs may share 2 cores
SCRIPTS = Path(__file__).resolve().parent / "scripts"
_INHERITED_PREFIXES = ("SLURM_", "TORCHELASTIC_", "PL_", "JOB_")
_INHERITED = {"MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK",
              "LOCAL_WORLD_SIZE", "STATETRAINER_LAUNCHER_PID"}


def free_port(low: int | None = None, high: int | None = None) -> int:
    """A port free on 127.0.0.1 now: any, or the first free one in [low, high)."""
    candidates = [0] if low is None else range(low, high)
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError(f"no free port in [{low}, {high})")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in _INHERITED and not k.startswith(_INHERITED_PREFIXES)}
    env.update(PYTHONPATH=str(ROOT), GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1",
               PYTHONWARNINGS="ignore::FutureWarning")
    env.update(extra)
    return env


@dataclass
class Finished:
    returncode: int
    seconds: float
    stdout: str
    stderr: str


class Started:
    """One command in its own process group, writing to files under `folder`."""

    def __init__(self, args: list[str], folder: Path, env: dict[str, str], name: str = "main",
                 cwd: Path = ROOT):
        self.folder = folder
        self.name = name
        self.started = time.monotonic()
        self._out = open(folder / f"{name}.stdout", "w")
        self._err = open(folder / f"{name}.stderr", "w")
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=self._out, stderr=self._err,
                                     start_new_session=True)

    def wait(self, limit_s: float) -> Finished:
        try:
            self.proc.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            self.kill_group()
            self.proc.wait()
            pytest.fail(f"{self.name} ran past {limit_s}s and was killed; stderr ends with:\n{self.text('stderr')[-3000:]}")
        seconds = time.monotonic() - self.started
        return Finished(self.proc.returncode, seconds, self.text("stdout"), self.text("stderr"))

    def text(self, stream: str) -> str:
        self._out.flush()
        self._err.flush()
        return (self.folder / f"{self.name}.{stream}").read_text()

    def kill_group(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        self.kill_group()
        self._out.close()
        self._err.close()


def run_script(script: str, folder: Path, *args: str, limit_s: float = HARD_LIMIT_S, env: dict | None = None,
               python: list[str] | None = None) -> Finished:
    started = Started([*(python or [sys.executable]), str(SCRIPTS / script), "--out", str(folder), *args], folder,
                      env or clean_env())
    try:
        return started.wait(limit_s)
    finally:
        started.close()


def results(folder: Path, *names: str) -> list[dict]:
    return [json.loads((folder / f"{name}.json").read_text()) for name in names]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
