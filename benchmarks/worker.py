"""Run ONE contender once in this (fresh) process and write its timing as JSON.

    python benchmarks/worker.py CONTENDER --result out.json [--steps 1000] [--data loader|tensors] [--profile out.prof]

CONTENDER is one of `CONTENDERS`. The process warms up with a short untimed run of the same
contender (kernels, allocator, lazy imports), then times one run: building the optimizer / the
Trainer, `steps` training steps and one validation pass. Model construction (seeded) is outside
the timed region for everyone; so are the final checks (weights checksum, validation loss).
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import json
import logging
import os
import tempfile
import time
import warnings

import torch

import hand_loop
from framework_loop import framework, module_class, trainer_flags
from workload import STEPS, VAL_BATCHES, WARMUP_STEPS, checksum, loaders, make_net

CONTENDERS = ("hand", "statetrainer", "lightning", "statetrainer-defaults", "lightning-defaults")
DATA = ("loader", "tensors")


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _hand(steps: int, val_batches: int, root: str, data: str):
    train, val = loaders(steps, val_batches, data)
    net = make_net()
    return (lambda: hand_loop.train(net, train, val)), net


def _framework(contender: str):
    fw, _, config = contender.partition("-")
    base, trainer_cls = framework(fw)
    cls = module_class(base, log_loss=config == "defaults")

    def prepare(steps: int, val_batches: int, root: str, data: str):
        train, val = loaders(steps, val_batches, data)
        model = cls()
        flags = trainer_flags(config or "bare", root)
        return (lambda: trainer_cls(**flags).fit(model, train, val)), model.net
    return prepare


def written(root: str) -> list[str]:
    """The files a run left under its root dir, relative to it (logs, checkpoints)."""
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def _timed(run, profile_path: str | None) -> tuple[float, float]:
    gc.collect()
    profiler = cProfile.Profile() if profile_path else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.runcall(run)
    else:
        run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if profiler:
        profiler.dump_stats(profile_path)
    return wall, cpu


def measure(contender: str, steps: int, val_batches: int, warmup: int, profile_path: str | None = None,
            data: str = "loader") -> dict:
    torch.set_num_threads(1)
    _quiet()
    prepare = _hand if contender == "hand" else _framework(contender)
    with tempfile.TemporaryDirectory(prefix="bench-") as root:
        if warmup:
            run, _ = prepare(warmup, min(val_batches, 5), os.path.join(root, "warmup"), data)
            run()
        run, net = prepare(steps, val_batches, os.path.join(root, "timed"), data)
        wall, cpu = _timed(run, profile_path)
        files = written(os.path.join(root, "timed"))
    _, val = loaders(steps, val_batches, data)
    return {"contender": contender, "data": data, "steps": steps, "val_batches": val_batches, "wall_s": wall, "cpu_s": cpu,
            "checksum": checksum(net), "val_loss": hand_loop.validate(net, val), "files_written": files,
            "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("contender", choices=CONTENDERS)
    parser.add_argument("--result", required=True, help="where to write the JSON result")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--val-batches", type=int, default=VAL_BATCHES)
    parser.add_argument("--warmup", type=int, default=WARMUP_STEPS)
    parser.add_argument("--profile", default=None, help="write a cProfile of the timed run here")
    parser.add_argument("--data", choices=DATA, default="loader", help="DataLoader or pre-cut batches")
    args = parser.parse_args()
    result = measure(args.contender, args.steps, args.val_batches, args.warmup, args.profile, args.data)
    with open(args.result, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
