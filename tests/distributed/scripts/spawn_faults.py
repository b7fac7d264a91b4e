"""ddp_spawn / ddp_fork workers that fail: worker 1 is SIGKILLed (worker 0 busy), then worker 1 raises; both
must end the launch within seconds with the error raised in the main process (main.json holds the error
and when it was raised; dying-<how>.json when worker 1 died). The Trainer's hand-back is tested through
trainer_run.py.
"""
import os
import signal
import time

from common import parse, write
from statetrainer.strategies import resolve_strategy


def dies(strategy, how, out):
    rank = strategy.local_rank
    if rank == 1:
        write(out, f"dying-{how}", {"at": time.time()})
    if rank == 1 and how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if rank == 1:
        raise RuntimeError("boom in worker 1")
    time.sleep(60)


def faults(strategy, out):
    report = {}
    for how in ("kill", "raise"):
        try:
            strategy.launcher.launch(dies, strategy, how, out)
            report[how] = ["no error"]
        except Exception as error:
            report[how] = [type(error).__name__, time.time(), str(error)[-400:]]
    write(out, "main", report)


def main():
    args = parse()
    _, strategy = resolve_strategy(args.strategy, accelerator="cpu", devices=2)
    faults(strategy, args.out)


if __name__ == "__main__":
    main()
