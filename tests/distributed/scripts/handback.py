"""ddp_spawn / ddp_fork: workers train copies, rank 0 hands weights, metrics and a path back.

--mode handback  train 3 SGD steps on 2 workers, each on half the data; the main process
                 restores the weights and compares with one process on the whole batch
--mode faults    worker 1 is SIGKILLed (worker 0 busy), then worker 1 raises: both must end
                 the launch within seconds with the error raised in the main process (main.json
                 holds the error and when it was raised; dying-<how>.json when worker 1 died)
"""
import os
import signal
import time

import torch

from common import parse, write
from statetrainer.strategies import resolve_strategy
from statetrainer.strategies.launchers import HandBack


class Regressor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(3, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)


def data():
    gen = torch.Generator().manual_seed(1)
    return torch.randn(8, 3, generator=gen), torch.randn(8, 1, generator=gen)


def train(strategy, model, steps):
    strategy.setup_environment()
    rank = strategy.global_rank
    x, y = data()
    wrapped = strategy.wrap(model)
    optimizer = torch.optim.SGD(wrapped.parameters(), lr=0.1)
    for step in range(steps):
        optimizer.zero_grad()
        loss = strategy.run_training_step(model, (x[rank * 4:(rank + 1) * 4], y[rank * 4:(rank + 1) * 4]), step)
        loss.backward()
        optimizer.step()
    metrics = {"train_loss": strategy.reduce(loss.detach()), "steps": torch.tensor(steps)}
    out = HandBack.collect(model, metrics, best_model_path=f"/ckpts/best-rank{rank}.ckpt",
                           result={"rank": rank, "pid": os.getpid()})
    strategy.teardown()
    return out


def reference(steps):
    """Plain SGD on the whole batch in this process (by hand: torch.optim would import torch._dynamo here)."""
    model = Regressor()
    x, y = data()
    for step in range(steps):
        model.zero_grad()
        model.training_step((x, y), step).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
    return model


def handback(strategy, out):
    model = Regressor()
    initial = [p.detach().clone() for p in model.parameters()]
    back = strategy.launcher.launch(train, strategy, model, 3)
    unchanged = all(torch.equal(a, b) for a, b in zip(initial, model.parameters()))
    back.restore_weights(model)
    expected = reference(3)
    write(out, "main", {
        "type": type(back).__name__, "unchanged_before_restore": unchanged,
        "matches_single_process": all(torch.allclose(a, b) for a, b in zip(model.parameters(), expected.parameters())),
        "moved": not all(torch.equal(a, b) for a, b in zip(initial, model.parameters())),
        "metrics": {k: [type(v).__name__, v.tolist()] for k, v in back.callback_metrics.items()},
        "best": back.best_model_path, "result": back.result, "main_pid": os.getpid(),
        "weights_file_left": os.path.exists(back.weights_path)})


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
    (handback if args.mode == "handback" else faults)(strategy, args.out)


if __name__ == "__main__":
    main()
