"""TorchElasticEnvironment: processes started by torchrun (torch.distributed.run)."""
from __future__ import annotations

import os

from statetrainer.errors import MisconfigurationError
from statetrainer.plugins.environments.cluster_environment import ClusterEnvironment

__all__ = ["TorchElasticEnvironment"]


class TorchElasticEnvironment(ClusterEnvironment):
    """Everything from the variables torchrun sets: RANK, LOCAL_RANK, GROUP_RANK, WORLD_SIZE, MASTER_ADDR/PORT."""

    @property
    def creates_processes_externally(self) -> bool:
        return True

    @property
    def main_address(self) -> str:
        return os.environ.get("MASTER_ADDR", "127.0.0.1")

    @property
    def main_port(self) -> int:
        return int(os.environ.get("MASTER_PORT", "29500"))

    @staticmethod
    def detect() -> bool:
        """True inside a process torchrun started (it always sets TORCHELASTIC_RUN_ID)."""
        return "TORCHELASTIC_RUN_ID" in os.environ

    def world_size(self) -> int:
        return int(os.environ["WORLD_SIZE"])

    def global_rank(self) -> int:
        return int(os.environ["RANK"])

    def local_rank(self) -> int:
        return int(os.environ["LOCAL_RANK"])

    def node_rank(self) -> int:
        return int(os.environ.get("GROUP_RANK", "0"))

    def validate_settings(self, num_devices: int, num_nodes: int) -> None:
        if num_devices * num_nodes != self.world_size():
            raise MisconfigurationError(
                f"`devices`={num_devices} times `num_nodes`={num_nodes} is {num_devices * num_nodes}, but torchrun "
                f"started {self.world_size()} processes in all; accepted: devices equal to --nproc_per_node and "
                "num_nodes equal to --nnodes.")
