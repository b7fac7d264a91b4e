"""One launch path, checked: whoever started this process, the ranks agree and a collective works.

Writes rank<global_rank>.json: ranks, the cluster environment found, the rendezvous address,
how many processes this one started, and the results of an all-reduce and an all-gather.
"""
import os

import torch

from common import parse, write
from statetrainer.plugins import ClusterEnvironment
from statetrainer.strategies import resolve_strategy


class JobEnvironment(ClusterEnvironment):
    """A user's plugin for a made-up scheduler that exports JOB_RANK, JOB_SIZE, JOB_HOST and JOB_PORT."""

    @property
    def creates_processes_externally(self):
        return True

    @property
    def main_address(self):
        return os.environ["JOB_HOST"]

    @property
    def main_port(self):
        return int(os.environ["JOB_PORT"])

    def world_size(self):
        return int(os.environ["JOB_SIZE"])

    def global_rank(self):
        return int(os.environ["JOB_RANK"])

    def local_rank(self):
        return int(os.environ["JOB_RANK"])

    def node_rank(self):
        return 0


def main():
    args = parse()
    plugin = JobEnvironment() if args.env == "custom" else None
    _, strategy = resolve_strategy(args.strategy, accelerator="cpu", devices=args.devices, num_nodes=args.num_nodes,
                                   cluster_environment=plugin)

    def run():
        strategy.setup_environment()
        env = strategy.cluster_environment
        rank = strategy.global_rank
        result = {"ranks": [rank, strategy.local_rank, strategy.node_rank, strategy.world_size],
                  "environment": type(env).__name__, "address": [env.main_address, env.main_port],
                  "children": len(getattr(strategy.launcher, "procs", [])),
                  "sum": strategy.reduce(torch.tensor(float(rank + 1)), reduce_op="sum").item(),
                  "gathered": strategy.all_gather(torch.tensor(rank)).tolist(),
                  "sampler": strategy.distributed_sampler_kwargs}
        strategy.teardown()
        write(args.out, f"rank{rank}", result)

    strategy.launcher.launch(run)


if __name__ == "__main__":
    main()
