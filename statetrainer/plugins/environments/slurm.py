"""SLURMEnvironment: processes started by srun inside a SLURM allocation."""
from __future__ import annotations

import os

from statetrainer.errors import MisconfigurationError
from statetrainer.plugins.environments.cluster_environment import ClusterEnvironment
from statetrainer.plugins.environments.hostlist import expand_hostlist

__all__ = ["SLURMEnvironment"]

_INTERACTIVE_JOB_NAMES = ("bash", "interactive")


class SLURMEnvironment(ClusterEnvironment):
    """Ranks from SLURM_PROCID / SLURM_LOCALID / SLURM_NODEID / SLURM_NTASKS; srun starts every process.

    The main address is `MASTER_ADDR` when set, else the first host of SLURM_NODELIST (the
    compressed syntax is expanded here). The main port is `MASTER_PORT` when set, else 15000 plus
    the last four digits of SLURM_JOB_ID (12910 without a job id), so every task of a job agrees
    on it without talking. `auto_requeue` / `requeue_signal` are kept for Lightning-compatible
    construction; requeueing itself is not implemented.
    """

    def __init__(self, auto_requeue: bool = True, requeue_signal=None) -> None:
        self.auto_requeue = auto_requeue
        self.requeue_signal = requeue_signal

    @property
    def creates_processes_externally(self) -> bool:
        return True

    @property
    def main_address(self) -> str:
        if "MASTER_ADDR" in os.environ:
            return os.environ["MASTER_ADDR"]
        hosts = expand_hostlist(os.environ.get("SLURM_NODELIST", os.environ.get("SLURM_JOB_NODELIST", "")))
        return hosts[0] if hosts else "127.0.0.1"

    @property
    def main_port(self) -> int:
        if "MASTER_PORT" in os.environ:
            return int(os.environ["MASTER_PORT"])
        job_id = os.environ.get("SLURM_JOB_ID", "")
        digits = job_id[-4:]
        return 15000 + int(digits) if digits.isdigit() else 12910

    @staticmethod
    def detect() -> bool:
        """True in a task srun started, unless the job is named 'bash' or 'interactive' (a shell allocation)."""
        return "SLURM_NTASKS" in os.environ and os.environ.get("SLURM_JOB_NAME") not in _INTERACTIVE_JOB_NAMES

    @staticmethod
    def job_name() -> str | None:
        return os.environ.get("SLURM_JOB_NAME")

    @staticmethod
    def job_id() -> int | None:
        job_id = os.environ.get("SLURM_JOB_ID", "")
        return int(job_id) if job_id.isdigit() and SLURMEnvironment.job_name() not in _INTERACTIVE_JOB_NAMES else None

    def world_size(self) -> int:
        return int(os.environ["SLURM_NTASKS"])

    def global_rank(self) -> int:
        return int(os.environ["SLURM_PROCID"])

    def local_rank(self) -> int:
        return int(os.environ["SLURM_LOCALID"])

    def node_rank(self) -> int:
        return int(os.environ["SLURM_NODEID"])

    def validate_settings(self, num_devices: int, num_nodes: int) -> None:
        per_node = os.environ.get("SLURM_NTASKS_PER_NODE", "")
        if per_node.isdigit() and int(per_node) != num_devices:
            raise MisconfigurationError(
                f"`devices` got {num_devices} but the SLURM job runs --ntasks-per-node={per_node}; accepted: "
                f"devices={per_node} (one process per device).")
        nodes = os.environ.get("SLURM_NNODES", "")
        if nodes.isdigit() and int(nodes) != num_nodes:
            raise MisconfigurationError(
                f"`num_nodes` got {num_nodes} but the SLURM job has --nodes={nodes}; accepted: num_nodes={nodes}.")
