"""ClusterEnvironment: the base a scheduler or launcher plugin implements (ranks and the rendezvous)."""
from __future__ import annotations

__all__ = ["ClusterEnvironment"]


class ClusterEnvironment:
    """Where a process learns its ranks, the world size and the main address/port.

    Subclass it for a scheduler statetrainer does not know and pass an instance in `plugins=`.
    `creates_processes_externally` says whether something else (torchrun, srun, your own launcher)
    starts every process; when False, the "ddp" strategy starts the other local processes itself.
    The two setters are called by the strategy with the ranks it computes from `devices` and
    `num_nodes`; environments whose ranks come from the scheduler ignore them.
    """

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

    def set_world_size(self, size: int) -> None:
        """Told the world size the strategy computed (ignored by default)."""

    def global_rank(self) -> int:
        raise NotImplementedError

    def set_global_rank(self, rank: int) -> None:
        """Told the global rank the strategy computed (ignored by default)."""

    def local_rank(self) -> int:
        raise NotImplementedError

    def node_rank(self) -> int:
        raise NotImplementedError

    def validate_settings(self, num_devices: int, num_nodes: int) -> None:
        """Raise when `devices` / `num_nodes` contradict what the environment says (nothing by default)."""

    def teardown(self) -> None:
        """Undo what the environment changed in this process (nothing by default)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
