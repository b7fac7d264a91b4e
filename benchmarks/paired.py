"""Paired fits in one process: the target case's contenders take turns, so every ratio compares fits run
seconds apart on the same machine state.

    python benchmarks/paired.py [--rounds 15] [--steps 1000] [--result out.json]

Why: on a shared machine the speed drifts by several percent within seconds (one process timing six
identical hand-loop fits in a row saw 466-559 ms) and by up to 40 % between runs, so fits timed in
separate processes 15 s apart do not share their drift. Here one interpreter imports every contender
(the hand loop, the hand loop clearing gradients by hand, the bare Ignite engine, statetrainer bare and
with its defaults; not Lightning, whose import would weigh on the others), warms each up, then runs
`rounds` rounds, each a whole fit of every contender in a rotated order (the workload of worker.py:
tiny model, pre-cut batches, fresh model and data per fit). Each round's fit is divided by the hand
loop's fit of the same round; the report is the median of those ratios with its spread, and whether
every fit ended with the hand loop's weights.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import statistics
import tempfile
import time

import torch

import here  # noqa: F401  (first: statetrainer from this checkout)
from report import available
from worker import preparer, quiet, warm_up
from workload import digest

CONTENDERS = ("hand", "hand-clear", "ignite", "statetrainer", "statetrainer-defaults")
DATA, MODEL = "tensors", "tiny"


def measure(names: list[str], rounds: int, steps: int, val_batches: int, warmup: int) -> dict:
    """{contender: [{"cpu_s", "wall_s", "digest"} per round]}, the contenders taking turns in this process."""
    torch.set_num_threads(1)
    quiet()
    prepare = {name: preparer(name) for name in names}
    fits: dict[str, list[dict]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="bench-") as root, contextlib.redirect_stdout(io.StringIO()):
        for name in names:
            warm_up(prepare[name], warmup, val_batches, os.path.join(root, f"warmup-{name}"), DATA, MODEL)
        for r in range(rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:  # rotated: no contender always follows the same one
                run, net = prepare[name](steps, val_batches, os.path.join(root, f"{name}-{r}"), DATA, MODEL)
                gc.collect()
                wall, cpu = time.perf_counter(), time.process_time()
                run()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                fits[name].append({"cpu_s": cpu, "wall_s": wall, "digest": digest(net)})
    return fits


def summarize(fits: dict[str, list[dict]], steps: int) -> dict:
    """Per contender: median CPU µs/step, the median and quartiles of its per-round ratio to the hand loop,
    and whether every fit ended with the hand loop's weights."""
    hand = fits["hand"]
    out = {}
    for name, mine in fits.items():
        ratios = [fit["cpu_s"] / ref["cpu_s"] for fit, ref in zip(mine, hand)]
        q = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else [ratios[0]] * 3
        out[name] = {"us_per_step": statistics.median(f["cpu_s"] for f in mine) / steps * 1e6,
                     "ratio": statistics.median(ratios), "ratio_q1": q[0], "ratio_q3": q[2],
                     "same_weights_as_hand": all(f["digest"] == ref["digest"] for f, ref in zip(mine, hand))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--val-batches", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--only", nargs="+", choices=CONTENDERS, help="these contenders (the hand loop always)")
    parser.add_argument("--result", default=None, help="write the JSON result here")
    args = parser.parse_args()
    names = [c for c in CONTENDERS if available(c) and (c == "hand" or not args.only or c in args.only)]
    fits = measure(names, args.rounds, args.steps, args.val_batches, args.warmup)
    result = {"rounds": args.rounds, "steps": args.steps, "val_batches": args.val_batches, "fits": fits,
              "summary": summarize(fits, args.steps)}
    for name, row in result["summary"].items():
        print(f"{name:24s} {row['us_per_step']:7.0f} µs/step  x{row['ratio']:.3f} "
              f"({row['ratio_q1']:.3f}-{row['ratio_q3']:.3f})  same weights: {row['same_weights_as_hand']}")
    if args.result:
        with open(args.result, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
