"""Run ONE contender in this (fresh) process and write its timings as JSON.

    python benchmarks/worker.py CONTENDER --result out.json [--steps 1000] [--short-steps 100]
                                [--data loader|tensors] [--model tiny|medium] [--short-first]

CONTENDER is one of `CONTENDERS`. The process warms up with a short untimed run of the same
contender (kernels, allocator, lazy imports), then times two runs, each a whole fit: building the
optimizer / the engine / the Trainer, `steps` (the long run) or `short_steps` (the short run)
training steps and one validation pass. The difference of the two separates the cost per step
from the cost per fit. Model and data construction (seeded) are outside the timed region for
everyone; so are the final checks (weights digest, validation loss).
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

import here  # noqa: F401  (first: statetrainer from this checkout)
import hand_loop
from report import LABELS
from workload import MODELS, SHORT_STEPS, STEPS, VAL_BATCHES, WARMUP_STEPS, digest, loaders, make_net

CONTENDERS = tuple(LABELS)
DATA = ("loader", "tensors")


def quiet() -> None:
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "ignite"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _plain(train_fn):
    """prepare() for a contender that trains a bare net with `train_fn(net, train, val)`."""
    def prepare(steps: int, val_batches: int, root: str, data: str, model: str):
        train, val = loaders(steps, val_batches, data, model)
        net = make_net(model)
        return (lambda: train_fn(net, train, val)), net
    return prepare


def _framework(contender: str):
    from framework_loop import framework, module_class, trainer_flags
    fw, _, config = contender.partition("-")
    base, trainer_cls = framework(fw)

    def prepare(steps: int, val_batches: int, root: str, data: str, model: str):
        train, val = loaders(steps, val_batches, data, model)
        module = module_class(base, log_loss=config == "defaults", model=model)()
        flags = trainer_flags(config or "bare", root)
        return (lambda: trainer_cls(**flags).fit(module, train, val)), module.net
    return prepare


def preparer(contender: str):
    """prepare(steps, val_batches, root, data, model) -> (run, net): `run()` is what gets timed."""
    if contender == "hand":
        return _plain(hand_loop.train)
    if contender == "hand-clear":
        return _plain(hand_loop.train_clearing)
    if contender.startswith("ignite"):
        import ignite_loop
        return _plain(ignite_loop.train_supervised if contender == "ignite-supervised" else ignite_loop.train_engine)
    return _framework(contender)


def written(root: str) -> list[str]:
    """The files a run left under its root dir, relative to it (logs, checkpoints)."""
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def timed(run, profile_path: str | None = None) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of run(); with a path, under cProfile, stats written there."""
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


def warm_up(prepare, warmup: int, val_batches: int, root: str, data: str, model: str) -> None:
    if warmup:
        run, _ = prepare(warmup, min(val_batches, 5), os.path.join(root, "warmup"), data, model)
        run()


def one_run(prepare, steps: int, val_batches: int, root: str, data: str, model: str,
            profile_path: str | None = None) -> tuple[dict, torch.nn.Module]:
    """One timed fit of `steps` steps in its own root dir: (times, weights' digest, files written; the net)."""
    run, net = prepare(steps, val_batches, root, data, model)
    wall, cpu = timed(run, profile_path)
    return {"steps": steps, "wall_s": wall, "cpu_s": cpu, "digest": digest(net), "files_written": written(root)}, net


def measure(contender: str, steps: int, short_steps: int, val_batches: int, warmup: int, data: str = "loader",
            model: str = "tiny", short_first: bool = False) -> dict:
    """Warm up, then time the long fit and (unless short_steps is 0) the short fit, in either order."""
    torch.set_num_threads(1)
    quiet()
    prepare = preparer(contender)
    order = [("short", short_steps), ("long", steps)] if short_first else [("long", steps), ("short", short_steps)]
    fits, nets = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-") as root:
        warm_up(prepare, warmup, val_batches, root, data, model)
        for name, n in order:
            if n:
                fits[name], nets[name] = one_run(prepare, n, val_batches, os.path.join(root, name), data, model)
    _, val = loaders(steps, val_batches, data, model)
    return {"contender": contender, "data": data, "model": model, "model_desc": MODELS[model].describe(),
            "val_batches": val_batches, **fits["long"], "val_loss": hand_loop.validate(nets["long"], val),
            "short": fits.get("short"), "short_first": short_first, "threads": torch.get_num_threads(),
            "statetrainer_source": here.statetrainer_source()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("contender", choices=CONTENDERS)
    parser.add_argument("--result", required=True, help="where to write the JSON result")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps of the long run")
    parser.add_argument("--short-steps", type=int, default=SHORT_STEPS, help="training steps of the short run (0: none)")
    parser.add_argument("--short-first", action="store_true", help="time the short run before the long one")
    parser.add_argument("--val-batches", type=int, default=VAL_BATCHES)
    parser.add_argument("--warmup", type=int, default=WARMUP_STEPS)
    parser.add_argument("--data", choices=DATA, default="loader", help="DataLoader or pre-cut batches")
    parser.add_argument("--model", choices=tuple(MODELS), default="tiny", help="the workload's model size")
    args = parser.parse_args()
    result = measure(args.contender, args.steps, args.short_steps, args.val_batches, args.warmup, args.data,
                     args.model, args.short_first)
    with open(args.result, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
