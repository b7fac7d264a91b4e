"""ClusterEnvironment: where a process learns its ranks and the rendezvous address (a Trainer plugin)."""
from __future__ import annotations

import os

__all__ = ["ClusterEnvironment", "LightningEnvironment"]


class ClusterEnvironment:
    """Subclass for a scheduler (SLURM, a launcher...): ranks, world size and the main address/port."""

    @property
    def creates_processes_externally(self) -> bool:
        return False

    @property
    def main_address(self) -> str:
        raise NotImplementedError

    @property
    def main_port(self) -> int:
        raise NotImplementedError

    @staticmethod
    def detect() -> bool:
        return False

    def world_size(self) -> int:
        raise NotImplementedError

    def global_rank(self) -> int:
        raise NotImplementedError

    def local_rank(self) -> int:
        raise NotImplementedError

    def node_rank(self) -> int:
        raise NotImplementedError


class LightningEnvironment(ClusterEnvironment):
    """The default: torchrun-style variables (MASTER_ADDR/PORT, WORLD_SIZE, RANK, LOCAL_RANK, NODE_RANK)."""

    @property
    def creates_processes_externally(self) -> bool:
        return "LOCAL_RANK" in os.environ

    @property
    def main_address(self) -> str:
        return os.environ.get("MASTER_ADDR", "127.0.0.1")

    @property
    def main_port(self) -> int:
        return int(os.environ.get("MASTER_PORT", "29500"))

    @staticmethod
    def detect() -> bool:
        return True

    def world_size(self) -> int:
        return int(os.environ.get("WORLD_SIZE", "1"))

    def global_rank(self) -> int:
        return int(os.environ.get("RANK", "0"))

    def local_rank(self) -> int:
        return int(os.environ.get("LOCAL_RANK", "0"))

    def node_rank(self) -> int:
        return int(os.environ.get("NODE_RANK", os.environ.get("GROUP_RANK", "0")))
