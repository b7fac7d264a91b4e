"""Step time of a Trainer on 2 CPU processes (strategy="ddp", 32 samples per rank) against 1 process (64 samples),
the same global batch; the same DDP training written by hand; and what the ranks' stop agreement (one tiny
all-reduce per decision point) costs.

    .venv/bin/python benchmarks/ddp_step.py            # runs every case in a fresh interpreter, prints a table
    .venv/bin/python benchmarks/ddp_step.py --case one|hand_ddp|ddp --width N --out F   # one case

Each process uses one torch thread. Timed: the steps after a warm-up, on rank 0, between the first timed
on_train_batch_start and the last on_train_batch_end. Nothing here is asserted by the tests.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

import here  # noqa: F401  (first: statetrainer from this checkout)
import statetrainer as st

GLOBAL_BATCH, WARMUP, TIMED = 64, 30, 300
CASES = ("one", "hand_ddp", "ddp")


def _model(width: int):
    class MLP(st.StateModule):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(torch.nn.Linear(32, width), torch.nn.ReLU(), torch.nn.Linear(width, width),
                                           torch.nn.ReLU(), torch.nn.Linear(width, 10))

        def training_step(self, batch, batch_idx):
            x, y = batch
            return torch.nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)
    return MLP()


class Clock(st.Callback):
    """Wall time of the timed steps on rank 0, and the cost of the agreement all-reduce afterwards."""

    def __init__(self, out: str):
        self.out = out
        self.started = 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.global_step == WARMUP:
            self.started = time.perf_counter()

    def on_train_end(self, trainer, module):
        seconds = time.perf_counter() - self.started
        vote_us = _vote_cost_us(trainer) if trainer.world_size > 1 else 0.0
        if trainer.is_global_zero:
            with open(self.out, "w") as handle:
                json.dump({"ms_per_step": 1000 * seconds / TIMED, "vote_us": vote_us}, handle)


def _vote_cost_us(trainer, repeats: int = 500) -> float:
    from statetrainer.strategies import collectives
    trainer.strategy.barrier()
    started = time.perf_counter()
    for _ in range(repeats):
        collectives.vote([0, 0])
    return 1e6 * (time.perf_counter() - started) / repeats


def run_hand_ddp(width: int, out: str, data) -> None:
    """The same DDP training written by hand on the strategy's pieces (process group, wrapper, sampler): what
    DDP itself costs here, without the Trainer's loop."""
    from torch.utils.data import DistributedSampler
    from statetrainer.strategies import resolve_strategy
    _, strategy = resolve_strategy("ddp", accelerator="cpu", devices=2)

    def train() -> None:
        strategy.setup_environment()
        model = _model(width)
        wrapped = strategy.wrap(model)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        sampler = DistributedSampler(data, **strategy.distributed_sampler_kwargs, shuffle=False)
        for step, (x, y) in enumerate(DataLoader(data, batch_size=GLOBAL_BATCH // 2, sampler=sampler)):
            if step == WARMUP:
                started = time.perf_counter()
            optimizer.zero_grad()
            strategy.run_training_step(model, (x, y), step).backward()
            optimizer.step()
        if strategy.is_global_zero:
            with open(out, "w") as handle:
                json.dump({"ms_per_step": 1000 * (time.perf_counter() - started) / TIMED}, handle)
        strategy.teardown()
    strategy.launcher.launch(train)


def run_case(case: str, width: int, out: str) -> None:
    torch.set_num_threads(1)
    devices = 2 if case == "ddp" else 1
    samples = GLOBAL_BATCH * (WARMUP + TIMED)
    gen = torch.Generator().manual_seed(1)
    data = TensorDataset(torch.randn(samples, 32, generator=gen), torch.randint(0, 10, (samples,), generator=gen))
    if case == "hand_ddp":
        run_hand_ddp(width, out, data)
        return
    trainer = st.Trainer(strategy="ddp" if case == "ddp" else "auto", accelerator="cpu", devices=devices,
                         max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, callbacks=[Clock(out)])
    trainer.fit(_model(width), DataLoader(data, batch_size=GLOBAL_BATCH // devices))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=CASES)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if args.case:
        run_case(args.case, args.width, args.out)
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "MASTER_ADDR": "127.0.0.1"}
    print(f"global batch {GLOBAL_BATCH}, {TIMED} timed steps after {WARMUP}; os.cpu_count()={os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| MLP width | Trainer, 1 process | DDP by hand, 2 processes | Trainer ddp, 2 processes | ddp / 1 process "
          "| one stop-agreement all-reduce |")
    print("|---|---|---|---|---|---|")
    for width in (64, 512, 2048):
        row = {}
        for case in CASES:
            out = f"/tmp/ddp_step_{case}_{width}_{os.getpid()}.json"
            subprocess.run([sys.executable, __file__, "--case", case, "--width", str(width), "--out", out], env=env,
                           check=True, timeout=600)
            with open(out) as handle:
                row[case] = json.load(handle)
            os.remove(out)
        one, hand, ddp = (row[case]["ms_per_step"] for case in CASES)
        print(f"| {width} | {one:.2f} ms | {hand:.2f} ms | {ddp:.2f} ms | {ddp / one:.2f} | "
              f"{row['ddp']['vote_us']:.0f} µs |", flush=True)


if __name__ == "__main__":
    main()
