"""A rank that dies or fails, under the plain "ddp" launcher; and the collective timeout.

--mode kill_parent  rank 0 (the launching process) SIGKILLs itself; rank 1 is busy
--mode raise_parent rank 0 raises; rank 1 is busy
--mode timeout      rank 1 skips a barrier; rank 0 must fail after DDPStrategy(timeout=3 s)
"""
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import torch.distributed as dist

from common import parse, start_line, wait_for_files, write
from statetrainer.strategies import DDPStrategy, resolve_strategy


def busy(out, rank):
    write(out, f"busy{rank}", {"pid": os.getpid(), "at": time.time()})
    time.sleep(60)
    write(out, f"survived{rank}", {})


def faults(mode, out, rank):
    if mode == "raise_parent":
        if rank == 0:
            wait_for_files([Path(out, "busy1.json")])
            write(out, "dying0", {"at": time.time()})
            raise RuntimeError("boom on rank 0")
        busy(out, rank)
    elif mode == "kill_parent":
        if rank == 0:
            wait_for_files([Path(out, "busy1.json")])
            write(out, "dying0", {"at": time.time()})
            os.kill(os.getpid(), signal.SIGKILL)
        busy(out, rank)


def timeout(strategy, out, rank):
    if rank == 1:
        wait_for_files([Path(out, "rank0.json")])
        return
    started = time.monotonic()
    try:
        strategy.barrier()
        error = ""
    except RuntimeError as caught:
        error = str(caught)
    write(out, "rank0", {"waited_s": time.monotonic() - started, "error": error[:300]})


def main():
    args = parse()
    limit = timedelta(seconds=3) if args.mode == "timeout" else timedelta(seconds=60)
    _, strategy = resolve_strategy(DDPStrategy(timeout=limit), accelerator="cpu", devices=2)

    def run():
        rank = strategy.local_rank
        start_line(args.out, rank, 2)
        strategy.setup_environment()
        strategy.barrier()
        if args.mode == "timeout":
            timeout(strategy, args.out, rank)
        else:
            faults(args.mode, args.out, rank)
        dist.destroy_process_group()

    strategy.launcher.launch(run)


if __name__ == "__main__":
    main()
