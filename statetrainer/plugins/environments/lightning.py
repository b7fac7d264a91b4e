"""LightningEnvironment: the default, for plain starts and hand-made launches with torchrun-style variables."""
from __future__ import annotations

import os
import socket

from statetrainer.plugins.environments.cluster_environment import ClusterEnvironment

__all__ = ["LightningEnvironment", "find_free_port"]


def find_free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LightningEnvironment(ClusterEnvironment):
    """Ranks from `LOCAL_RANK` / `NODE_RANK` (or `GROUP_RANK`), the rendezvous from `MASTER_ADDR` / `MASTER_PORT`.

    When `LOCAL_RANK` is set, something else started the processes; otherwise the "ddp" strategy
    starts them. Global rank and world size are what the strategy computes from `devices` and
    `num_nodes` (before it says, `RANK` / `WORLD_SIZE` from the environment, else 0 / 1).
    The main port is `MASTER_PORT`, else a free port chosen once.
    """

    def __init__(self) -> None:
        self._main_port: int | None = None
        self._global_rank: int | None = None
        self._world_size: int | None = None

    @property
    def creates_processes_externally(self) -> bool:
        return "LOCAL_RANK" in os.environ

    @property
    def main_address(self) -> str:
        return os.environ.get("MASTER_ADDR", "127.0.0.1")

    @property
    def main_port(self) -> int:
        if self._main_port is None:
            given = os.environ.get("MASTER_PORT")
            self._main_port = int(given) if given else find_free_port()
        return self._main_port

    @staticmethod
    def detect() -> bool:
        return True

    def world_size(self) -> int:
        if self._world_size is not None:
            return self._world_size
        return int(os.environ.get("WORLD_SIZE", "1"))

    def set_world_size(self, size: int) -> None:
        self._world_size = size

    def global_rank(self) -> int:
        if self._global_rank is not None:
            return self._global_rank
        return int(os.environ.get("RANK", "0"))

    def set_global_rank(self, rank: int) -> None:
        self._global_rank = rank

    def local_rank(self) -> int:
        return int(os.environ.get("LOCAL_RANK", "0"))

    def node_rank(self) -> int:
        return int(os.environ.get("NODE_RANK", os.environ.get("GROUP_RANK", "0")))
